"""`codereflex validation check SPEC`: validate a deployment validation spec offline, as a hook would load it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from codereflex.errors import ConfigurationError
from codereflex.validation.plan import LAMBDA_LIMIT_S, plan_of, run_budget_s, steps
from codereflex.validation.spec import Spec, SpecError, canonical_hook, load


def add_parser(commands: Any) -> None:
    validation = commands.add_parser("validation", help="deployment validation specs")
    actions = validation.add_subparsers(dest="action", required=True)
    check = actions.add_parser(
        "check",
        help="validate a spec offline: schema, templates, rules, and whether its plan fits its time",
        description="Exit status 0 when the spec would load, 2 with every problem on stderr when not.",
    )
    check.add_argument("spec", type=Path, help="the spec file (YAML or JSON)")
    check.add_argument("--hook", help="also require checks for this lifecycle hook (any case, as in the AppSpec)")
    check.add_argument(
        "--run-seconds",
        type=int,
        default=LAMBDA_LIMIT_S,
        help=f"the hook function's timeout, the length of one run (default {LAMBDA_LIMIT_S})",
    )
    check.set_defaults(run=check_spec)


def _hook_problems(spec: Spec, hook: str) -> list[str]:
    try:
        canonical = canonical_hook(hook)
    except ConfigurationError as error:
        return [str(error)]
    return [] if spec.for_hook(canonical) else [f"the spec has no checks for {canonical}"]


def check_spec(args: argparse.Namespace) -> int:
    path: Path = args.spec
    try:
        text = path.read_bytes()
    except OSError as error:
        print(f"codereflex: cannot read {path}: {error.strerror}", file=sys.stderr)
        return 2
    problems: list[str] = []
    try:
        spec = load(text, run_seconds=args.run_seconds)
    except SpecError as error:
        problems = list(error.problems)
    if not problems and args.hook:
        problems = _hook_problems(spec, args.hook)
    if problems:
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        return 2
    hooks = [canonical_hook(args.hook)] if args.hook else sorted({h for c in spec.checks for h in c.hooks})
    budget = run_budget_s(args.run_seconds, spec.run_margin_seconds)
    print(f"{path}: {spec.name} ({spec.platform}) is valid")
    for hook in hooks:
        plan = plan_of(spec.for_hook(hook), hook)
        runs = len(steps(plan, budget))
        checks = ", ".join(f"{c.name}{'' if c.gating else ' (dry run)'}" for c in spec.for_hook(hook))
        print(f"  {hook}: {checks}; at most {plan.duration_s:.0f} s in {runs} run(s) of {budget:.0f} s")
    for warning in spec.warnings:
        print(f"  warning: {warning}")
    return 0
