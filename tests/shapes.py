"""GeoJSON test shapes in Kaibu's convention, shared by every test layer."""


def polygon(label="cell", x=10.0, y=10.0, size=5.0):
    """One closed square ring of `size` pixels with its lower-left corner at (x, y)."""
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
         "properties": {"label": label}}]}
