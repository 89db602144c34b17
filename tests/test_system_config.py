"""GET/PUT /system-config, defaults, storage-template options, and the rules beyond the schema."""
from __future__ import annotations

import copy
from typing import Any

import pytest
from starlette.testclient import TestClient

from immich_lite.app import create_app
from immich_lite.repos import system_metadata
from immich_lite.services.system_config_defaults import STORAGE_PRESETS
from immich_lite.services.system_config_rules import cron_error, storage_template_ok
from tests.conftest import ADMIN, assert_error, assert_invalid, assert_schema, login


def _put(admin: Any, change: Any) -> Any:
    config = admin.get("/api/system-config").json()
    change(config)
    return admin.put("/api/system-config", json=config)


def test_get_config_equals_defaults_on_a_fresh_server(admin: Any) -> None:
    current = assert_schema(admin.get("/api/system-config"), "getConfig")
    assert current == assert_schema(admin.get("/api/system-config/defaults"), "getConfigDefaults")


def test_defaults_carry_upstream_values(admin: Any) -> None:
    body = admin.get("/api/system-config/defaults").json()
    assert body["trash"] == {"enabled": True, "days": 30}
    assert body["storageTemplate"]["template"] == "{{y}}/{{y}}-{{MM}}-{{dd}}/{{filename}}"
    assert body["backup"]["database"]["cronExpression"] == "0 02 * * *"
    assert body["image"]["thumbnail"] == {"format": "webp", "size": 250, "quality": 80, "progressive": False}
    assert body["ffmpeg"]["realtime"]["resolutions"] == [480, 720, 1080]


def test_config_routes_are_admin_only(user: Any) -> None:
    assert_error(user.get("/api/system-config"), 403)
    assert_error(user.put("/api/system-config", json={}), 403)


def test_put_returns_the_new_config(admin: Any) -> None:
    r = _put(admin, lambda c: c["trash"].update(days=5))
    assert assert_schema(r, "updateConfig")["trash"]["days"] == 5
    assert admin.get("/api/system-config").json()["trash"]["days"] == 5


def test_put_persists_across_restart(client: Any, admin: Any, settings: Any) -> None:
    _put(admin, lambda c: c["server"].update(loginPageMessage="Welcome home"))
    with TestClient(create_app(settings)) as second:
        token = login(second, ADMIN["email"], ADMIN["password"])["accessToken"]
        body = second.get("/api/system-config", headers={"Authorization": f"Bearer {token}"}).json()
        assert body["server"]["loginPageMessage"] == "Welcome home"


def test_put_stores_only_the_difference_from_defaults(admin: Any, ctx: Any) -> None:
    _put(admin, lambda c: (c["trash"].update(days=9), c["user"].update(deleteDelay=7)))
    assert system_metadata.get(ctx.db.reader(), "system-config") == {"trash": {"days": 9}}


def test_put_empty_string_means_default(admin: Any) -> None:
    r = _put(admin, lambda c: c["oauth"].update(buttonText=""))
    assert r.json()["oauth"]["buttonText"] == "Login with OAuth"


def test_put_emits_config_update(admin: Any, ctx: Any) -> None:
    seen: list[tuple[str, str, Any]] = []
    ctx.events.subscribe(lambda e, room, payload: seen.append((e, room, payload)))
    _put(admin, lambda c: c["trash"].update(days=3))
    assert ("on_config_update", "all", None) in seen


def test_put_normalises_external_domain_to_its_origin(admin: Any) -> None:
    r = _put(admin, lambda c: c["server"].update(externalDomain="https://Photos.Example.com:443/albums/"))
    assert r.json()["server"]["externalDomain"] == "https://photos.example.com"


def test_put_adds_the_target_codec_to_the_accepted_ones(admin: Any) -> None:
    r = _put(admin, lambda c: c["ffmpeg"].update(targetVideoCodec="hevc"))
    assert r.json()["ffmpeg"]["acceptedVideoCodecs"] == ["h264", "hevc"]


def test_disabling_password_login_blocks_login(client: Any, admin: Any) -> None:
    _put(admin, lambda c: c["passwordLogin"].update(enabled=False))
    r = client.post("/api/auth/login", json={"email": ADMIN["email"], "password": ADMIN["password"]})
    assert_error(r, 401, "Password login has been disabled")


def test_put_missing_section_is_400(admin: Any) -> None:
    config = admin.get("/api/system-config").json()
    del config["trash"]
    assert_invalid(admin.put("/api/system-config", json=config),
                   (["trash"], "Invalid input: expected object, received undefined"))


@pytest.mark.parametrize("change, issue", [
    (lambda c: c["trash"].update(days=-1), (["trash", "days"], "Too small: expected number to be >=0")),
    (lambda c: c["image"]["thumbnail"].update(quality=101),
     (["image", "thumbnail", "quality"], "Too big: expected number to be <=100")),
    (lambda c: c["logging"].update(level="loud"),
     (["logging", "level"], 'Invalid option: expected one of "verbose"|"debug"|"log"|"warn"|"error"|"fatal"')),
    (lambda c: c["nightlyTasks"].update(startTime="25:00"), None),
    (lambda c: c["map"].update(lightStyle="not a url"), (["map", "lightStyle"], "Invalid URL")),
    (lambda c: c["server"].update(externalDomain="photos"),
     (["server", "externalDomain"], "External domain must be an empty string or a valid URL")),
    (lambda c: c["oauth"].update(issuerUrl="nope"),
     (["oauth", "issuerUrl"], "Issuer URL must be an empty string or a valid URL")),
    (lambda c: c["library"]["scan"].update(cronExpression="0 0 32 * *"),
     (["library", "scan", "cronExpression"],
      "Invalid cron expression. Field value out of range in day of month: 32")),
])
def test_put_invalid_value_is_400(admin: Any, change: Any, issue: Any) -> None:
    r = _put(admin, change)
    if issue:
        assert_invalid(r, issue)
    else:
        assert_error(r, 400, "Validation failed")


def test_put_invalid_value_changes_nothing(admin: Any) -> None:
    before = admin.get("/api/system-config").json()
    _put(admin, lambda c: (c["trash"].update(days=1), c["backup"]["database"].update(cronExpression="nope")))
    assert admin.get("/api/system-config").json() == before


@pytest.mark.parametrize("template", ["{{y}}/{{unknown}}", "{{#if album}}{{album}}", "{{y}/{{MM}}", "{{> part}}",
                                      "{{nohelper y}}/{{filename}}"])
def test_put_invalid_storage_template_is_400(admin: Any, template: str) -> None:
    r = _put(admin, lambda c: c["storageTemplate"].update(template=template))
    assert_error(r, 400, "Invalid storage template")


def test_put_unknown_clip_model_is_400(admin: Any) -> None:
    r = _put(admin, lambda c: c["machineLearning"]["clip"].update(modelName="ViT-Z-99__nobody"))
    assert_error(r, 400, "Unknown CLIP model: ViT-Z-99__nobody. Please check the model name for typos and confirm "
                         "this is a supported model.")


def test_put_enabling_smtp_is_400_without_a_mail_transport(admin: Any) -> None:
    r = _put(admin, lambda c: c["notifications"]["smtp"].update(enabled=True))
    body = assert_error(r, 400)
    assert body["message"].startswith("Invalid SMTP configuration")


def test_storage_template_options_as_upstream(admin: Any) -> None:
    body = assert_schema(admin.get("/api/system-config/storage-template-options"), "getStorageTemplateOptions")
    assert body["yearOptions"] == ["y", "yy"]
    assert body["monthOptions"] == ["M", "MM", "MMM", "MMMM"]
    assert body["presetOptions"][0] == "{{y}}/{{y}}-{{MM}}-{{dd}}/{{filename}}"
    assert len(body["presetOptions"]) == 21


@pytest.mark.parametrize("template", STORAGE_PRESETS)
def test_every_preset_is_a_valid_template(template: str) -> None:
    assert storage_template_ok(template)


@pytest.mark.parametrize("expression", ["0 0 * * *", "0 02 * * *", "*/15 * * * * *", "0 3 * * mon-fri",
                                        "0 0 1 jan,jul *", "@daily", "0 0 * * 7", "0 1-10/2 * * *"])
def test_valid_cron_expressions(expression: str) -> None:
    assert cron_error(expression) is None


@pytest.mark.parametrize("expression", ["", "0 0 * *", "0 0 * * * * *", "60 * * * *", "*/0 * * * *", "x * * * *",
                                        "5-1 * * * *", "0 0 0 * *"])
def test_invalid_cron_expressions(expression: str) -> None:
    assert cron_error(expression) is not None


def test_defaults_are_not_changed_by_a_put(admin: Any) -> None:
    defaults = copy.deepcopy(admin.get("/api/system-config/defaults").json())
    _put(admin, lambda c: c["ffmpeg"].update(targetAudioCodec="mp3", crf=30))
    assert admin.get("/api/system-config/defaults").json() == defaults
