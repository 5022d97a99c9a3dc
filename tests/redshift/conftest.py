"""Fixtures of the photo-z tests: the published protocol's rows of the JWST spec-z catalogue."""
import pytest


@pytest.fixture(scope="session")
def protocol(jwst_phot):
    """(mags, z) of the published protocol: 4,605 complete rows with z ≤ 7."""
    from galfast.datasets import jwst_specz_protocol

    p, _ = jwst_specz_protocol(jwst_phot)
    return p.mag(), p.z


@pytest.fixture(scope="session")
def protocol_phot(jwst_phot):
    """The published protocol's rows as Photometry (ids, bands, z)."""
    from galfast.datasets import jwst_specz_protocol

    return jwst_specz_protocol(jwst_phot)[0]
