-- Bulk inserts into an in-memory database, for scripts/bench.sh.
CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, payload TEXT);
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 200000)
INSERT INTO items SELECT x, 'item-' || x, hex(randomblob(24)) FROM n;
CREATE INDEX items_name ON items(name);
SELECT count(*), sum(length(payload)) FROM items;
