"""``kemuctl describe`` output per kind, laid out as kubectl's describers lay it out."""
