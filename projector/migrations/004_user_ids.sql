-- Each account gets an id that is never reused: tokens, device cookies and exports name
-- it, so a user removed and later made again under the same name is someone else.
ALTER TABLE users ADD COLUMN IF NOT EXISTS user_id uuid NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX IF NOT EXISTS users_user_id ON users (user_id);
