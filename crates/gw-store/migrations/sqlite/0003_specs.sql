-- Imported API descriptions (OpenAPI / Swagger), kept as their source text so every later
-- run routes traffic against the same declarations (`gatewatch spec import`).
--   name        the API name given at import (or the spec's title); one spec per name
--   file        where it was imported from, as given
--   format      "json" or "yaml"-ish, as detected; informational
--   content     the document as imported (UTF-8)
--   imported_us wall-clock time of the import, microseconds since the epoch
CREATE TABLE specs (
    name        TEXT PRIMARY KEY NOT NULL,
    file        TEXT NOT NULL,
    content     TEXT NOT NULL,
    imported_us INTEGER NOT NULL
) STRICT;
