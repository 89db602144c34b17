"""XMP sidecars that carry the metadata a test wants an upload to have (read by the real exiftool)."""
from __future__ import annotations

from xml.sax.saxutils import escape


def _dm(v: float, pos: str, neg: str) -> str:
    return f"{int(abs(v))},{(abs(v) % 1) * 60:.6f}{pos if v >= 0 else neg}"


def sidecar(*, taken: str | None = None, lat: float | None = None, lon: float | None = None,
            make: str | None = None, model: str | None = None, lens: str | None = None,
            description: str | None = None, rating: int | None = None, keywords: tuple[str, ...] = ()) -> bytes:
    """An XMP packet: capture time (with its offset), GPS, camera, lens, description, rating, hierarchical keywords."""
    attrs, body = [], []
    if taken:
        attrs.append(f'exif:DateTimeOriginal="{taken}"')
    if lat is not None and lon is not None:
        attrs.append(f'exif:GPSLatitude="{_dm(lat, "N", "S")}" exif:GPSLongitude="{_dm(lon, "E", "W")}"')
    if make:
        attrs.append(f'tiff:Make="{escape(make)}"')
    if model:
        attrs.append(f'tiff:Model="{escape(model)}"')
    if lens:
        attrs.append(f'exifEX:LensModel="{escape(lens)}"')
    if rating is not None:
        attrs.append(f'xmp:Rating="{rating}"')
    if description:
        body.append(f"<dc:description><rdf:Alt><rdf:li xml:lang='x-default'>{escape(description)}</rdf:li></rdf:Alt>"
                    "</dc:description>")
    if keywords:
        items = "".join(f"<rdf:li>{escape(k.replace('/', '|'))}</rdf:li>" for k in keywords)
        body.append(f"<lr:hierarchicalSubject><rdf:Bag>{items}</rdf:Bag></lr:hierarchicalSubject>")
    return ("<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?><x:xmpmeta xmlns:x='adobe:ns:meta/'>"
            "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'><rdf:Description rdf:about='' "
            "xmlns:dc='http://purl.org/dc/elements/1.1/' xmlns:xmp='http://ns.adobe.com/xap/1.0/' "
            "xmlns:exif='http://ns.adobe.com/exif/1.0/' xmlns:tiff='http://ns.adobe.com/tiff/1.0/' "
            "xmlns:exifEX='http://cipa.jp/exif/1.0/' xmlns:lr='http://ns.adobe.com/lightroom/1.0/' "
            f"{' '.join(attrs)}>{''.join(body)}</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end='w'?>"
            ).encode()
