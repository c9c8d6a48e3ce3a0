"""Decodes a Mapbox Vector Tile file with the mapbox-vector-tile package and prints its layers
as JSON: per layer, its extent and every feature's id, properties and point coordinates."""

import json
import sys

import mapbox_vector_tile

with open(sys.argv[1], "rb") as file:
    tile = mapbox_vector_tile.decode(file.read())
print(
    json.dumps(
        {
            name: {
                "extent": layer["extent"],
                "features": [
                    {
                        "id": feature.get("id"),
                        "properties": feature["properties"],
                        "coordinates": feature["geometry"]["coordinates"],
                    }
                    for feature in layer["features"]
                ],
            }
            for name, layer in tile.items()
        }
    )
)
