import uuid

import pytest

from orderline.core.errors import ValidationFailed
from orderline.shipping.rules import Address, ZoneTerms, check_address, match_zone


def address(**changes: str | None) -> Address:
    fields: dict[str, str | None] = {"name": "Ada Lovelace", "line1": "12 St James's Square",
                                     "city": "London", "country": "GB",
                                     "postal_code": "SW1Y 4JH"}
    fields.update(changes)
    return Address(**fields)  # type: ignore[arg-type]


def zone(name: str, countries: tuple[str, ...], *, regions: tuple[str, ...] = (),
         prefixes: tuple[str, ...] = (), position: int = 0) -> ZoneTerms:
    return ZoneTerms(id=uuid.uuid4(), name=name, countries=countries, regions=regions,
                     postal_prefixes=prefixes, position=position)


def test_an_address_is_normalised_country_upper_case_postal_code_without_blanks() -> None:
    checked = check_address(address(name="  Ada ", country=" gb ", postal_code=" sw1y 4jh ",
                                    region="  Greater London ", line2=" Flat 2 ",
                                    phone=" +44 20 7946 0000 "))
    assert checked == Address(name="Ada", line1="12 St James's Square", city="London",
                              country="GB", line2="Flat 2", region="Greater London",
                              postal_code="SW1Y4JH", phone="+44 20 7946 0000")


def test_a_blank_phone_is_no_phone() -> None:
    assert check_address(address(phone="   ")).phone is None
    assert check_address(address(phone=None)).phone is None


@pytest.mark.parametrize("field", ["name", "line1", "city"])
def test_a_blank_required_field_is_refused_naming_the_field(field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_address(address(**{field: "   "}))
    assert caught.value.details == {"field": f"address.{field}"}


@pytest.mark.parametrize("country", ["GBR", "G", "", "1A", "G-", "ÅB"])
def test_a_country_must_be_two_letters(country: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_address(address(country=country))
    assert caught.value.details == {"field": "address.country"}


@pytest.mark.parametrize(("field", "value"), [
    ("name", "x" * 201), ("line2", "x" * 201), ("region", "x" * 201),
    ("postal_code", "9" * 21), ("phone", "1" * 41),
])
def test_overlong_fields_are_refused_naming_the_field(field: str, value: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_address(address(**{field: value}))
    assert caught.value.details == {"field": f"address.{field}"}


def test_an_address_round_trips_through_its_dict() -> None:
    checked = check_address(address(region="London", phone="+44 1"))
    assert checked.as_dict() == {"name": "Ada Lovelace", "line1": "12 St James's Square",
                                 "line2": "", "city": "London", "region": "London",
                                 "postal_code": "SW1Y4JH", "country": "GB", "phone": "+44 1"}
    assert Address.from_dict(checked.as_dict()) == checked


def test_the_zone_with_the_lowest_position_wins() -> None:
    europe = zone("Europe", ("GB", "FR"), position=2)
    britain = zone("Britain", ("GB",), position=1)
    assert match_zone([europe, britain], address()) is britain


def test_at_equal_positions_postal_prefixes_beat_regions_beat_country_only() -> None:
    country = zone("UK", ("GB",))
    region = zone("London", ("GB",), regions=("greater london",))
    postal = zone("Westminster", ("GB",), prefixes=("sw1",))
    london = address(region="Greater London")
    assert match_zone([country, region, postal], london) is postal
    assert match_zone([country, region], london) is region
    assert match_zone([country], london) is country


def test_a_lower_position_beats_a_more_specific_zone() -> None:
    country = zone("UK", ("GB",), position=0)
    postal = zone("Westminster", ("GB",), prefixes=("SW1",), position=1)
    assert match_zone([postal, country], address()) is country


def test_at_equal_position_and_specificity_the_earlier_zone_wins() -> None:
    first, second = zone("A", ("GB",)), zone("B", ("GB",))
    assert match_zone([first, second], address()) is first
    assert match_zone([second, first], address()) is second


def test_regions_match_without_case_or_surrounding_blanks() -> None:
    alaska = zone("Alaska", ("US",), regions=(" AK ",))
    us = address(country="US", region="ak", postal_code="99501")
    assert match_zone([alaska], us) is alaska
    assert match_zone([alaska], address(country="US", region="CA")) is None
    assert match_zone([alaska], address(country="US")) is None


def test_postal_prefixes_match_the_normalised_postal_code() -> None:
    central = zone("Central London", ("GB",), prefixes=("w1 ", "sw1y"))
    assert match_zone([central], address(postal_code="sw1y 4jh")) is central
    assert match_zone([central], address(postal_code="W1A 1AA")) is central
    assert match_zone([central], address(postal_code="E1 6AN")) is None
    assert match_zone([central], address(postal_code="")) is None


def test_a_zone_with_regions_and_prefixes_needs_both() -> None:
    both = zone("Both", ("US",), regions=("NY",), prefixes=("100",))
    assert match_zone([both], address(country="US", region="NY", postal_code="10001")) is both
    assert match_zone([both], address(country="US", region="NJ", postal_code="10001")) is None
    assert match_zone([both], address(country="US", region="NY", postal_code="14201")) is None


def test_an_address_falls_through_to_a_wider_zone_when_a_narrow_one_does_not_match() -> None:
    alaska = zone("Alaska", ("US",), regions=("AK",))
    lower48 = zone("US", ("US",))
    assert match_zone([alaska, lower48], address(country="US", region="TX")) is lower48


def test_blank_regions_and_prefixes_are_ignored() -> None:
    sloppy = zone("UK", ("GB",), regions=(" ",), prefixes=("",))
    assert match_zone([sloppy], address()) is sloppy


def test_no_zone_for_an_unlisted_country_is_none() -> None:
    assert match_zone([zone("UK", ("GB",))], address(country="FR")) is None
    assert match_zone([], address()) is None
