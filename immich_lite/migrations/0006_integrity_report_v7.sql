-- Integrity report ids are UUIDv7, as upstream's (its routes take `UUIDv7ParamDto`: a v4 id is a 400 there).
UPDATE integrity_report SET id = immich_uuid_v7();
