-- Roles and camera access. A user is an admin (everything) or a viewer (the cameras in
-- ``cameras``; NULL means every camera). ``generation`` grows whenever the password,
-- role or access changes or the user logs out: tokens carry it, so older ones stop
-- working at once.
ALTER TABLE users ADD COLUMN IF NOT EXISTS role text NOT NULL DEFAULT 'viewer'
    CHECK (role IN ('admin', 'viewer'));
ALTER TABLE users ADD COLUMN IF NOT EXISTS cameras uuid[];
ALTER TABLE users ADD COLUMN IF NOT EXISTS generation integer NOT NULL DEFAULT 0;
UPDATE users SET role = 'admin' WHERE is_admin;
ALTER TABLE users DROP COLUMN IF EXISTS is_admin;
