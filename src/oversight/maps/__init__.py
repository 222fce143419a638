"""Street maps without the internet: vector tiles from one PMTiles file the city supplies.

A ground floor like config and store: it imports no other part of Oversight, so the CLI can make tiles
and web/ can serve them.
"""
