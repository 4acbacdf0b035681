"""Telling people: live review items (:mod:`.reviews`, shared with MQTT) and webhooks
(:mod:`.webhooks` pure: which items a rule wants, the signed body, the retry schedule;
:mod:`.sender`: the worker that delivers them)."""
