-- History queries filter on one column and return the newest rows first (ORDER BY id DESC LIMIT n).
-- With (column, started_at) indexes SQLite had to collect every matching row of the last 7 days and
-- sort them (90-160 ms at 1,000,000 rows); with (column, id, started_at) it walks the index newest
-- first and stops after n rows, checking started_at from the index itself (about 1 ms).
DROP INDEX IF EXISTS history_tool;
DROP INDEX IF EXISTS history_client;
DROP INDEX IF EXISTS history_node;
DROP INDEX IF EXISTS history_vmid;
DROP INDEX IF EXISTS history_outcome;
CREATE INDEX history_tool ON history (tool, id, started_at);
CREATE INDEX history_client ON history (client, id, started_at);
CREATE INDEX history_node ON history (node, id, started_at);
CREATE INDEX history_vmid ON history (vmid, id, started_at);
CREATE INDEX history_outcome ON history (outcome, id, started_at);
