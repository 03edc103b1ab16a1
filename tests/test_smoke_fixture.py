from suratbot.services import letters
from tests.helpers import letter_at, people


async def test_happy_path(office):
    p = await people(office)
    letter = await letter_at(office, p, "terkirim")
    assert letter.nomor == "500.16/1/DPMPTSP/2026"
    assert await letters.count_letters(office) == 1
