"""Discord's documented payload limits, checked the way Discord reports them.

Every violation becomes a field error at Discord's path (``content``, ``embeds.0.title``,
``components.0.components.3.custom_id``, ``0.options``...) so a 50035 from the double looks
like one from Discord and the bot's error handling sees the real shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import FormErrors

JsonObject = dict[str, Any]

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_MAX = 256
NONCE_MAX = 25
CUSTOM_ID_MAX = 100
ACTION_ROWS_MAX = 5
ROW_WIDTH_MAX = 5
BUTTON_LABEL_MAX = 80
SELECT_OPTIONS_MAX = 25
COMPONENTS_V2_TOTAL_MAX = 40
MODAL_TITLE_MAX = 45
COMMAND_NAME_MAX = 32
COMMAND_DESCRIPTION_MAX = 100
COMMAND_OPTIONS_MAX = 25
COMMAND_CHOICES_MAX = 25
COMMAND_TOTAL_CHARS_MAX = 4000
CHAT_INPUT_COMMANDS_MAX = 100
AUTOCOMPLETE_CHOICES_MAX = 25

MESSAGE_FLAG_EPHEMERAL = 1 << 6
MESSAGE_FLAG_LOADING = 1 << 7
MESSAGE_FLAG_COMPONENTS_V2 = 1 << 15

_CHAT_INPUT_NAME = re.compile(r"^[-_\w]{1,32}$")


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str) else 0


def _check_max(errors: FormErrors, path: Sequence[str | int], value: Any, limit: int) -> None:
    if isinstance(value, str) and len(value) > limit:
        errors.max_length(path, limit)


def embed_length(embed: Mapping[str, Any]) -> int:
    """Characters Discord counts towards the 6,000 total of one message's embeds."""
    total = _length(embed.get("title")) + _length(embed.get("description"))
    for f in embed.get("fields") or []:
        total += _length(f.get("name")) + _length(f.get("value"))
    total += _length((embed.get("footer") or {}).get("text"))
    total += _length((embed.get("author") or {}).get("name"))
    return total


def check_embeds(errors: FormErrors, embeds: Any) -> None:
    if embeds is None:
        return
    if not isinstance(embeds, list):
        errors.add(["embeds"], "BASE_TYPE_ARRAY", "Must be an array.")
        return
    if len(embeds) > EMBEDS_MAX:
        errors.max_length(["embeds"], EMBEDS_MAX)
        return
    for i, embed in enumerate(embeds):
        path: list[str | int] = ["embeds", i]
        _check_max(errors, [*path, "title"], embed.get("title"), EMBED_TITLE_MAX)
        _check_max(errors, [*path, "description"], embed.get("description"), EMBED_DESCRIPTION_MAX)
        _check_max(
            errors,
            [*path, "footer", "text"],
            (embed.get("footer") or {}).get("text"),
            EMBED_FOOTER_MAX,
        )
        _check_max(
            errors,
            [*path, "author", "name"],
            (embed.get("author") or {}).get("name"),
            EMBED_AUTHOR_MAX,
        )
        fields = embed.get("fields") or []
        if len(fields) > EMBED_FIELDS_MAX:
            errors.max_length([*path, "fields"], EMBED_FIELDS_MAX)
            continue
        for j, f in enumerate(fields):
            for key, limit in (("name", EMBED_FIELD_NAME_MAX), ("value", EMBED_FIELD_VALUE_MAX)):
                value = f.get(key)
                if not isinstance(value, str) or not value.strip():
                    errors.required([*path, "fields", j, key])
                else:
                    _check_max(errors, [*path, "fields", j, key], value, limit)
    if not errors and sum(embed_length(e) for e in embeds) > EMBED_TOTAL_MAX:
        errors.add(
            ["embeds"],
            "MAX_EMBED_SIZE_EXCEEDED",
            f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}",
        )


def _check_custom_id(
    errors: FormErrors, path: list[str | int], custom_id: Any, seen: set[str]
) -> None:
    if not isinstance(custom_id, str) or not custom_id:
        errors.required([*path, "custom_id"])
        return
    _check_max(errors, [*path, "custom_id"], custom_id, CUSTOM_ID_MAX)
    if custom_id in seen:
        errors.add(
            [*path, "custom_id"],
            "COMPONENT_CUSTOM_ID_DUPLICATED",
            "Component custom id cannot be duplicated",
        )
    seen.add(custom_id)


def _check_leaf(errors: FormErrors, path: list[str | int], comp: JsonObject, seen: set[str]) -> int:
    """Validate one interactive component; returns the width it takes in an action row."""
    ctype = comp.get("type")
    if ctype == 2:  # button
        _check_max(errors, [*path, "label"], comp.get("label"), BUTTON_LABEL_MAX)
        if comp.get("style") == 5:  # link button: url, no custom_id
            if not comp.get("url"):
                errors.required([*path, "url"])
        elif comp.get("style") != 6:  # premium buttons carry a sku id instead
            _check_custom_id(errors, path, comp.get("custom_id"), seen)
        return 1
    if ctype in (3, 5, 6, 7, 8):  # select menus take the whole row
        _check_custom_id(errors, path, comp.get("custom_id"), seen)
        options = comp.get("options") or []
        if len(options) > SELECT_OPTIONS_MAX:
            errors.max_length([*path, "options"], SELECT_OPTIONS_MAX)
        return ROW_WIDTH_MAX
    if ctype == 4:  # text input (modals)
        _check_custom_id(errors, path, comp.get("custom_id"), seen)
        return ROW_WIDTH_MAX
    return 0


def check_components(errors: FormErrors, components: Any, *, flags: int = 0) -> None:
    """Action rows of at most 5 buttons (or one select), 5 rows, custom_id ≤ 100, unique."""
    if components is None:
        return
    if not isinstance(components, list):
        errors.add(["components"], "BASE_TYPE_ARRAY", "Must be an array.")
        return
    seen: set[str] = set()
    if flags & MESSAGE_FLAG_COMPONENTS_V2:
        _check_v2(errors, ["components"], components, seen, counter=[0])
        return
    if len(components) > ACTION_ROWS_MAX:
        errors.max_length(["components"], ACTION_ROWS_MAX)
        return
    for i, row in enumerate(components):
        path: list[str | int] = ["components", i]
        if row.get("type") != 1:
            errors.add([*path, "type"], "COMPONENT_TYPE_INVALID", "Component type is invalid")
            continue
        children = row.get("components") or []
        if not children or len(children) > ROW_WIDTH_MAX:
            errors.bad_length([*path, "components"], 1, ROW_WIDTH_MAX)
            continue
        width = sum(
            _check_leaf(errors, [*path, "components", j], child, seen)
            for j, child in enumerate(children)
        )
        if width > ROW_WIDTH_MAX:
            errors.add(
                [*path, "components"],
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )


def _check_v2(
    errors: FormErrors,
    path: list[str | int],
    components: list[JsonObject],
    seen: set[str],
    counter: list[int],
) -> None:
    for i, comp in enumerate(components):
        counter[0] += 1
        child_path: list[str | int] = [*path, i]
        _check_leaf(errors, child_path, comp, seen)
        for key in ("components",):
            if isinstance(comp.get(key), list):
                _check_v2(errors, [*child_path, key], comp[key], seen, counter)
        for key in ("accessory", "component"):
            if isinstance(comp.get(key), dict):
                counter[0] += 1
                _check_leaf(errors, [*child_path, key], comp[key], seen)
    if path == ["components"] and counter[0] > COMPONENTS_V2_TOTAL_MAX:
        errors.max_length(["components"], COMPONENTS_V2_TOTAL_MAX)


def check_message_body(body: Mapping[str, Any], *, check_nonce: bool = True) -> FormErrors:
    """Field-level checks for a message create/edit body (not the emptiness rule)."""
    errors = FormErrors()
    content = body.get("content")
    if content is not None and not isinstance(content, str):
        errors.add(["content"], "BASE_TYPE_STRING", "Must be a string.")
    _check_max(errors, ["content"], content, CONTENT_MAX)
    check_embeds(errors, body.get("embeds"))
    check_components(errors, body.get("components"), flags=int(body.get("flags") or 0))
    if check_nonce:
        nonce = body.get("nonce")
        if isinstance(nonce, str):
            _check_max(errors, ["nonce"], nonce, NONCE_MAX)
        elif isinstance(nonce, int) and not -(2**63) <= nonce < 2**63:
            errors.add(["nonce"], "NUMBER_TYPE_COERCE", "Value is not int64.")
    return errors


def is_empty_message(body: Mapping[str, Any], *, attachments: int = 0) -> bool:
    """Discord's 50006 rule: nothing visible at all (whitespace-only content counts as none)."""
    content = body.get("content")
    has_content = isinstance(content, str) and content.strip() != ""
    return not (
        has_content
        or body.get("embeds")
        or body.get("components")
        or body.get("sticker_ids")
        or body.get("poll")
        or attachments
    )


def check_modal(data: Mapping[str, Any]) -> FormErrors:
    errors = FormErrors()
    seen: set[str] = set()
    _check_custom_id(errors, ["data"], data.get("custom_id"), seen)
    title = data.get("title")
    if not isinstance(title, str) or not title:
        errors.required(["data", "title"])
    else:
        _check_max(errors, ["data", "title"], title, MODAL_TITLE_MAX)
    components = data.get("components") or []
    if not 1 <= len(components) <= ACTION_ROWS_MAX:
        errors.bad_length(["data", "components"], 1, ACTION_ROWS_MAX)
    return errors


def check_autocomplete_choices(data: Mapping[str, Any]) -> FormErrors:
    errors = FormErrors()
    choices = data.get("choices")
    if not isinstance(choices, list):
        errors.required(["data", "choices"])
        return errors
    if len(choices) > AUTOCOMPLETE_CHOICES_MAX:
        errors.max_length(["data", "choices"], AUTOCOMPLETE_CHOICES_MAX)
    for i, choice in enumerate(choices):
        name = choice.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            errors.bad_length(["data", "choices", i, "name"], 1, 100)
        value = choice.get("value")
        if isinstance(value, str) and len(value) > 100:
            errors.max_length(["data", "choices", i, "value"], 100)
    return errors


# ---------------------------------------------------------------- application commands


def _command_chars(cmd: Mapping[str, Any]) -> int:
    total = _length(cmd.get("name")) + _length(cmd.get("description"))
    for opt in cmd.get("options") or []:
        total += _command_chars(opt)
        for choice in opt.get("choices") or []:
            total += _length(choice.get("name")) + len(str(choice.get("value", "")))
    return total


def _check_name(errors: FormErrors, path: list[str | int], name: Any, *, chat_input: bool) -> None:
    if not isinstance(name, str) or not name:
        errors.required([*path, "name"])
        return
    if chat_input:
        valid = bool(_CHAT_INPUT_NAME.match(name)) and name == name.lower()
    else:
        valid = 1 <= len(name) <= COMMAND_NAME_MAX
    if not valid:
        errors.add([*path, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")


def _check_description(
    errors: FormErrors, path: list[str | int], description: Any, *, required: bool
) -> None:
    if not required:
        if description not in (None, ""):
            errors.add(
                [*path, "description"],
                "APPLICATION_COMMAND_INVALID_DESCRIPTION",
                "Context menu commands cannot have description",
            )
        return
    if not isinstance(description, str) or not 1 <= len(description) <= COMMAND_DESCRIPTION_MAX:
        errors.bad_length([*path, "description"], 1, COMMAND_DESCRIPTION_MAX)


def _check_options(errors: FormErrors, path: list[str | int], options: Any, *, depth: int) -> None:
    """Options of a command (depth 0), a group (1) or a subcommand (2)."""
    if options is None:
        return
    if not isinstance(options, list):
        errors.add([*path, "options"], "BASE_TYPE_ARRAY", "Must be an array.")
        return
    if len(options) > COMMAND_OPTIONS_MAX:
        errors.max_length([*path, "options"], COMMAND_OPTIONS_MAX)
        return
    names: set[str] = set()
    seen_optional = False
    for i, opt in enumerate(options):
        opt_path: list[str | int] = [*path, "options", i]
        otype = opt.get("type")
        _check_name(errors, opt_path, opt.get("name"), chat_input=True)
        _check_description(errors, opt_path, opt.get("description"), required=True)
        if opt.get("name") in names:
            errors.add(
                [*opt_path, "name"],
                "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                "Option names must be unique",
            )
        names.add(opt.get("name"))
        if not isinstance(otype, int) or not 1 <= otype <= 11:
            errors.add([*opt_path, "type"], "BASE_TYPE_CHOICES", "Value must be one of 1-11.")
            continue
        if otype == 2:  # subcommand group: only at the top, only subcommands inside
            if depth != 0:
                errors.add(
                    [*opt_path, "type"],
                    "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                    "Subcommand groups can only be nested in commands",
                )
            elif any(o.get("type") != 1 for o in opt.get("options") or []):
                errors.add(
                    [*opt_path, "options"],
                    "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                    "Subcommand groups may only contain subcommands",
                )
            _check_options(errors, opt_path, opt.get("options"), depth=1)
            continue
        if otype == 1:
            if depth == 2:
                errors.add(
                    [*opt_path, "type"],
                    "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                    "Subcommands cannot be nested in subcommands",
                )
            _check_options(errors, opt_path, opt.get("options"), depth=2)
            continue
        if opt.get("required"):
            if seen_optional:
                errors.add(
                    [*path, "options"],
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True
        choices = opt.get("choices")
        if choices:
            if opt.get("autocomplete"):
                errors.add(
                    [*opt_path, "autocomplete"],
                    "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID",
                    "Autocomplete cannot be set with choices",
                )
            if len(choices) > COMMAND_CHOICES_MAX:
                errors.max_length([*opt_path, "choices"], COMMAND_CHOICES_MAX)
            for k, choice in enumerate(choices):
                cname = choice.get("name")
                if not isinstance(cname, str) or not 1 <= len(cname) <= 100:
                    errors.bad_length([*opt_path, "choices", k, "name"], 1, 100)


def check_commands(commands: Any) -> FormErrors:
    """Validate a bulk-overwrite body: a list of application command objects."""
    errors = FormErrors()
    if not isinstance(commands, list):
        errors.add([], "BASE_TYPE_ARRAY", "Must be an array.")
        return errors
    chat_input = [c for c in commands if c.get("type", 1) == 1]
    if len(chat_input) > CHAT_INPUT_COMMANDS_MAX:
        errors.max_length([], CHAT_INPUT_COMMANDS_MAX)
    seen: set[tuple[int, str]] = set()
    for i, cmd in enumerate(commands):
        ctype = cmd.get("type", 1)
        path: list[str | int] = [i]
        is_chat = ctype == 1
        _check_name(errors, path, cmd.get("name"), chat_input=is_chat)
        _check_description(errors, path, cmd.get("description"), required=is_chat)
        key = (ctype, str(cmd.get("name")))
        if key in seen:
            errors.add(
                [*path, "name"],
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                "Application command names must be unique",
            )
        seen.add(key)
        if is_chat:
            _check_options(errors, path, cmd.get("options"), depth=0)
        elif cmd.get("options"):
            errors.add(
                [*path, "options"],
                "APPLICATION_COMMAND_OPTIONS_INVALID",
                "Context menu commands cannot have options",
            )
        if _command_chars(cmd) > COMMAND_TOTAL_CHARS_MAX:
            errors.add(
                path,
                "APPLICATION_COMMAND_TOO_LARGE",
                f"Command exceeds maximum size ({COMMAND_TOTAL_CHARS_MAX})",
            )
    return errors
