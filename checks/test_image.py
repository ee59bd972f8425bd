"""Rubric checks on the final image's configuration (and the process it runs)."""

from __future__ import annotations

import json
import shlex

from grader.dockerfile.instructions import resolve_base, show
from grader.dockerfile.mistakes import describe_secret, secrets
from grader.dockerfile.parse import image_repository
from grader.dockerfile.resolve import last_of
from grader.facts import (
    CacheFacts,
    DevPackages,
    DockerfileFacts,
    ImageFacts,
    RuntimeFacts,
    SizeFacts,
    WasteFacts,
)
from grader.grading.rubric import Grade, check
from grader.i18n import t
from grader.labs.params import (
    EntrypointParams,
    ExposeParams,
    SecretsParams,
    UserParams,
    WasteParams,
)
from grader.labs.spec import LabSpec

SHELL = ("/bin/sh", "-c")
SHELLS = ("sh", "bash", "ash", "dash", "zsh")
SYSTEM_UIDS = (100, 999)
"""The uids ``adduser -S`` (Alpine) and ``useradd -r`` (Debian) give system users."""


def _last(dockerfile: DockerfileFacts | None, keyword: str) -> str:
    final = dockerfile.final_stage if dockerfile else None
    found = [i for i in final.instructions if i.keyword == keyword] if final else []
    return show(found[-1]) if found else ""


@check("image.user_non_root")
def test_user_non_root(
    image_config: ImageFacts,
    runtime_or_none: RuntimeFacts | None,
    dockerfile_or_none: DockerfileFacts | None,
    grade: Grade,
) -> None:
    """The image's user and the running process have a uid >= the lab's minimum (without an
    image, a user the Dockerfile names without its uid is taken as stated)."""
    params: UserParams = grade.params
    image = image_config
    evidence = _last(dockerfile_or_none, "USER")
    if not image.user:
        grade.fail("root", min_uid=params.min_uid, evidence=evidence)
    if image.uid is None and image.from_dockerfile:
        return  # no /etc/passwd to resolve it in: the Dockerfile names a user, not root
    if image.uid is None:
        grade.fail("unknown_user", user=image.user, evidence=evidence)
    if SYSTEM_UIDS[0] <= image.uid <= SYSTEM_UIDS[1] < params.min_uid:
        grade.fail("system_user", user=image.user, uid=image.uid, min_uid=params.min_uid)
    if image.uid < params.min_uid:
        grade.fail("low_uid", user=image.user, uid=image.uid, min_uid=params.min_uid)
    process_uid = runtime_or_none.process_uid if runtime_or_none else None
    if process_uid is not None and process_uid < params.min_uid:
        grade.fail("process_uid", uid=process_uid, min_uid=params.min_uid, evidence=evidence)


def _shell_wrapped(command: tuple[str, ...] | None) -> bool:
    """``[<a shell>, "-c", ...]``: what a shell-form ENTRYPOINT/CMD becomes in the image."""
    return (
        command is not None
        and len(command) >= 2
        and command[0].rsplit("/", 1)[-1] in SHELLS
        and command[1] == "-c"
    )


def _exec_json(text: str) -> str:
    """The exec form of a shell line, as valid JSON (a leading ``exec`` dropped)."""
    try:
        words = shlex.split(text, posix=True)
    except ValueError:
        words = text.split()
    return json.dumps(words[1:] if words[:1] == ["exec"] else words, ensure_ascii=False)


def _exec_form(image: ImageFacts, dockerfile: DockerfileFacts | None, grade: Grade) -> None:
    """Exec form, judged on what the Dockerfile wrote when it sets the instruction (a custom
    SHELL makes the image look like anything), else on the image. An exec-form
    ``["/bin/sh", "-c", "exec app ..."]`` is accepted: the shell replaces itself with the app,
    which becomes PID 1 and receives the signals."""
    params: EntrypointParams = grade.params
    if image.entrypoint is None and (params.require_entrypoint or image.cmd is None):
        grade.fail("missing")
    final = dockerfile.final_stage if dockerfile else None
    for keyword, command in (("ENTRYPOINT", image.entrypoint), ("CMD", image.cmd)):
        written = last_of(dockerfile, final, keyword) if dockerfile and final else None
        evidence = show(written) if written else ""
        if written is not None and not written.exec_form:
            text, fix = written.value, _exec_json(written.value)
            if _shell_wrapped(command) and command is not None and command[:2] != SHELL:
                shell = " ".join(command[:2])
                grade.fail(
                    "shell_form_custom",
                    keyword=keyword,
                    command=text,
                    shell=shell,
                    exec_form=fix,
                    evidence=evidence,
                )
            grade.fail(
                "shell_form", keyword=keyword, command=text, exec_form=fix, evidence=evidence
            )
        if not _shell_wrapped(command) or command is None:
            continue
        text = command[2] if len(command) > 2 else ""
        if text.lstrip().startswith("exec "):
            continue
        if written is not None:
            grade.fail(
                "wrapped",
                keyword=keyword,
                command=text,
                shell=" ".join(command[:2]),
                exec_form=_exec_json(text),
                evidence=evidence,
            )
        grade.fail(
            "shell_form",
            keyword=keyword,
            command=text,
            exec_form=_exec_json(text),
            evidence=evidence,
        )


@check("image.entrypoint_exec_form")
def test_entrypoint_exec_form(
    image_config: ImageFacts, dockerfile_or_none: DockerfileFacts | None, grade: Grade
) -> None:
    """ENTRYPOINT is set and in exec form, so the app is PID 1 and receives signals."""
    _exec_form(image_config, dockerfile_or_none, grade)


@check("image.entrypoint")
def test_entrypoint(
    image_config: ImageFacts, dockerfile_or_none: DockerfileFacts | None, grade: Grade
) -> None:
    """ENTRYPOINT or CMD starts the app, in exec form."""
    _exec_form(image_config, dockerfile_or_none, grade)


@check("image.exposed_port")
def test_exposed_port(
    image_config: ImageFacts, runtime_or_none: RuntimeFacts | None, lab: LabSpec, grade: Grade
) -> None:
    """EXPOSE declares the port the app listens on (the lab's, or the one observed)."""
    params: ExposeParams = grade.params
    image = image_config
    port = lab.port or (runtime_or_none.serving_port if runtime_or_none else None)
    shown = port if port is not None else "?"
    exposed = ", ".join(map(str, sorted(image.exposed_ports)))
    if not image.exposed_ports:
        if params.require_expose:
            grade.fail("missing", port=shown)
        grade.note("missing_advice", port=shown)
        return
    if port is not None and port not in image.exposed_ports:
        grade.fail("wrong", port=port, exposed=exposed)


@check("image.no_dev_dependencies")
def test_no_dev_dependencies(dev_packages: DevPackages, grade: Grade) -> None:
    """No package listed in devDependencies is installed in the final image."""
    if dev_packages.present:
        grade.fail(
            packages=", ".join(dev_packages.present),
            folder=dev_packages.folder,
            evidence="\n".join(
                f"{dev_packages.folder}/{n}/package.json" for n in dev_packages.present
            ),
        )


def _source(sizes: SizeFacts, grade: Grade) -> str:
    key = sizes.single_source.replace(" ", "_").replace(".", "_")
    return t(f"size_source.{key}", grade.lang)


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f}"


@check("image.size")
def test_size(sizes: SizeFacts, grade: Grade) -> None:
    """The multi-stage image is smaller than the same app built in a single stage."""
    if sizes.single_bytes is None:
        grade.fail("no_comparison", final=_mb(sizes.final_bytes), source=_source(sizes, grade))
    final, single, source = _mb(sizes.final_bytes), _mb(sizes.single_bytes), _source(sizes, grade)
    if (sizes.saving_bytes or 0) <= 0:
        grade.fail("not_smaller", final=final, single=single, source=source)
    grade.note(
        "smaller",
        final=final,
        single=single,
        source=source,
        saving=_mb(sizes.saving_bytes or 0),
        percent=f"{sizes.saving_percent or 0:.0f}",
    )


# -- static diagnoses (issue 7): secrets, healthcheck -----------------------------------------


@check("image.no_secrets")
def test_no_secrets(
    image: ImageFacts, dockerfile_or_none: DockerfileFacts | None, grade: Grade
) -> None:
    """No ENV or ARG, and no variable of the final image, holds a secret (values never shown)."""
    params: SecretsParams = grade.params
    found = secrets(dockerfile_or_none, image.env, params.names, params.allowed)
    if found:
        grade.fail(
            names=", ".join(sorted({s.name for s in found})),
            where=", ".join(sorted({s.where for s in found})),
            evidence="\n".join(map(describe_secret, found)),
        )


@check("image.healthcheck")
def test_healthcheck(
    image: ImageFacts, dockerfile_or_none: DockerfileFacts | None, lab: LabSpec, grade: Grade
) -> None:
    """The final image declares a HEALTHCHECK, so Docker can tell a hung app from a healthy one."""
    if image.healthcheck is None:
        port = lab.port or min(image.exposed_ports, default=8000)
        final = dockerfile_or_none.final_stage if dockerfile_or_none else None
        base = resolve_base(dockerfile_or_none, final) if dockerfile_or_none and final else ""
        if image_repository(base) == "node":
            grade.fail("missing_node", port=port, path=lab.path)
        grade.fail(port=port, path=lab.path)
    grade.note(
        "present",
        test=" ".join(image.healthcheck),
        evidence=_last(dockerfile_or_none, "HEALTHCHECK"),
    )


def _seconds(value: float) -> str:
    return f"{value:.1f}"


@check("image.layer_cache")
def test_layer_cache(layer_cache: CacheFacts, grade: Grade) -> None:
    """After a one-line change to the app code, the dependency install comes from the cache."""
    installs = [s for s in layer_cache.steps if s.installs]
    if layer_cache.changed_file is None:
        grade.note("no_app_file")
        return
    if not installs:
        grade.note("no_install")
        return
    table = "\n".join(
        f"line {s.line}: {s.instruction} — "
        + ("cache" if s.cached else f"re-ran ({_seconds(s.seconds)} s)")
        for s in layer_cache.steps
        if not s.instruction.startswith("FROM ")
    )
    rerun = layer_cache.rerun_installs
    if rerun:
        breaker = next(
            (s for s in layer_cache.steps if not s.cached and not s.instruction.startswith("FROM")),
            rerun[0],
        )
        grade.fail(
            "rerun",
            file=layer_cache.changed_file,
            step=rerun[0].instruction,
            line=rerun[0].line,
            seconds=_seconds(sum(s.seconds for s in rerun)),
            breaker=breaker.instruction,
            breaker_line=breaker.line,
            evidence=table,
        )
    grade.note(
        "cached",
        file=layer_cache.changed_file,
        step=installs[-1].instruction,
        seconds=_seconds(layer_cache.seconds),
    )


def _offenders(waste: WasteFacts, grade: Grade) -> str:
    return "; ".join(
        f"{o.path} {_mb(o.size_bytes)} MB ({t('waste_kind.' + o.kind.split(':')[0], grade.lang)})"
        for o in waste.offenders
    )


def _method(waste: WasteFacts, grade: Grade) -> str:
    """How the layers were read, for the evidence (empty when nothing was read)."""
    return t("waste_method." + waste.method.replace(" ", "_"), grade.lang) if waste.method else ""


@check("image.waste")
def test_waste(waste: WasteFacts, grade: Grade) -> None:
    """The student's layers ship no deleted or overwritten files, caches or build tools."""
    params: WasteParams = grade.params
    if not waste.analysed:
        grade.note("not_analysed", max_mb=f"{params.max_image_mb:g}")
        return
    scope = t(f"waste_scope.{waste.scope}", grade.lang)
    efficiency = f"{100 * waste.efficiency:.0f}"
    removable, added = _mb(waste.removable_bytes), _mb(waste.added_bytes)
    wasted, caches, tools = _mb(waste.wasted_bytes), _mb(waste.cache_bytes), _mb(waste.tool_bytes)
    if (
        waste.removable_bytes > params.max_wasted_mb * 1e6
        or waste.efficiency < params.min_efficiency
    ):
        grade.fail(
            "wasted",
            removable=removable,
            efficiency=efficiency,
            added=added,
            scope=scope,
            wasted=wasted,
            caches=caches,
            tools=tools,
            offenders=_offenders(waste, grade),
            evidence="\n".join(
                line
                for line in (
                    *(
                        f"{_mb(o.size_bytes):>8} MB  {o.path}  <- {o.instruction}"
                        for o in waste.offenders
                    ),
                    _method(waste, grade),
                )
                if line
            ),
        )
    grade.note(
        "lean",
        added=added,
        efficiency=efficiency,
        scope=scope,
        wasted=wasted,
        caches=caches,
        tools=tools,
        evidence=_method(waste, grade),
    )
