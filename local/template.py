"""template.yaml as the local stack sees it: functions, routes, authorizer, CORS and resources.

The template is decoded with cfn-lint's decoder (it knows CloudFormation's short tags), and
intrinsic functions are resolved here against parameter values and the physical ids of the
resources the local stack created. Everything the local stack serves comes from this one
reading, so there is no second list of routes or variables to keep in sync.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
STACK_NAME = "chatkit-backend-local"
API_ID = "localapi"

# The environment variables DESIGN.md names, and the template parameter each one sets.
ENV_TO_PARAMETER: dict[str, str] = {
    "JWT_JWKS_URL": "JwtJwksUrl",
    "JWT_ISSUER": "JwtIssuer",
    "JWT_AUDIENCE": "JwtAudience",
    "OPENAI_API_KEY": "OpenAIApiKey",
    "OPENAI_BASE_URL": "OpenAIBaseUrl",
    "CHATKIT_WORKFLOW_ID": "ChatKitWorkflowId",
    "CHATKIT_WORKFLOW_VERSION": "ChatKitWorkflowVersion",
    "ALLOWED_ORIGINS": "AllowedOrigins",
}


class TemplateError(Exception):
    """The template uses something the local stack cannot resolve; the message names it."""


class _NoValue:
    """AWS::NoValue: the property it stands in for is dropped."""


NO_VALUE = _NoValue()


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    layer_dirs: tuple[Path, ...]
    environment: dict[str, str]
    timeout: int
    memory_mb: int

    @property
    def folder(self) -> str:
        """The function's folder under functions/, which names its events/ folder too."""
        return self.code_dir.name


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or ANY
    path: str  # /api/chatkit/threads/{thread_id}
    function: str
    authorized: bool

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters when this route serves ``method path``, else None."""
        if self.method not in ("ANY", method):
            return None
        pattern = "^" + re.sub(r"\\\{([^/}]+?)\\\+\\\}|\\\{([^/}]+)\\\}", self._group, re.escape(self.path)) + "$"
        found = re.match(pattern, path)
        return None if found is None else found.groupdict()

    @staticmethod
    def _group(match: re.Match[str]) -> str:
        if match.group(1):
            return f"(?P<{match.group(1)}>.+)"
        return f"(?P<{match.group(2)}>[^/]+)"


@dataclass(frozen=True)
class AuthorizerSpec:
    name: str
    function: str
    identity_headers: tuple[str, ...]
    reauthorize_every: int
    simple_responses: bool
    payload_version: str


@dataclass(frozen=True)
class CorsSpec:
    allow_origins: tuple[str, ...]
    allow_methods: tuple[str, ...]
    allow_headers: tuple[str, ...]
    expose_headers: tuple[str, ...]
    max_age: int | None
    allow_credentials: bool

    def allows(self, origin: str) -> bool:
        return "*" in self.allow_origins or origin in self.allow_origins


@dataclass
class Template:
    """The decoded template with parameter values; resolves intrinsics once resources have ids."""

    body: dict[str, Any]
    parameters: dict[str, Any]
    physical_ids: dict[str, str] = field(default_factory=dict)
    region: str = REGION

    @classmethod
    def load(cls, overrides: dict[str, str] | None = None, path: Path = TEMPLATE_PATH) -> Template:
        body, problems = decode(str(path))
        if body is None or problems:
            raise TemplateError(f"{path.name} does not decode: {[str(p) for p in problems]}")
        template = cls(body=_plain(body), parameters={})
        template.parameters = template._parameter_values(overrides or {})
        template._check_rules()
        return template

    def _check_rules(self) -> None:
        """The template's Rules, as CloudFormation checks them before it changes anything."""
        for name, rule in self.body.get("Rules", {}).items():
            if "RuleCondition" in rule and not self.resolve(rule["RuleCondition"]):
                continue
            for assertion in rule.get("Assertions", []):
                if not self.resolve(assertion["Assert"]):
                    raise TemplateError(f"rule {name}: {assertion.get('AssertDescription', 'assertion failed')}")

    @classmethod
    def from_environment(cls, environ: dict[str, str]) -> Template:
        """The template with parameters set from DESIGN.md's variables present in ``environ``."""
        overrides = {
            parameter: environ[variable]
            for variable, parameter in ENV_TO_PARAMETER.items()
            if environ.get(variable, "") != ""
        }
        return cls.load(overrides)

    def _parameter_values(self, overrides: dict[str, str]) -> dict[str, Any]:
        declared = self.body.get("Parameters", {})
        unknown = set(overrides) - set(declared)
        if unknown:
            raise TemplateError(f"unknown template parameters: {sorted(unknown)}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            raw = str(overrides.get(name, spec.get("Default", "")))
            allowed = spec.get("AllowedValues")
            if allowed and raw not in [str(v) for v in allowed]:
                raise TemplateError(f"parameter {name}={raw!r} is not one of {list(allowed)}")
            if spec.get("Type") == "CommaDelimitedList":
                values[name] = [item.strip() for item in raw.split(",") if item.strip()]
            else:
                values[name] = raw
        return values

    # ---- resources -------------------------------------------------------------------------
    @property
    def resources(self) -> dict[str, Any]:
        return self.body["Resources"]

    def resources_of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.resources.items()
            if resource.get("Type") == kind and self._included(resource)
        }

    def _included(self, resource: dict[str, Any]) -> bool:
        condition = resource.get("Condition")
        return condition is None or self.condition(condition)

    def properties(self, logical_id: str) -> dict[str, Any]:
        return self.resolve(self.resources[logical_id].get("Properties", {}))

    # ---- functions and the API -------------------------------------------------------------
    def functions(self) -> dict[str, FunctionSpec]:
        globals_ = self.body.get("Globals", {}).get("Function", {})
        specs = {}
        for logical_id, resource in self.resources_of_type("AWS::Serverless::Function").items():
            own = resource.get("Properties", {})
            environment = {
                **globals_.get("Environment", {}).get("Variables", {}),
                **own.get("Environment", {}).get("Variables", {}),
            }
            layers = [*globals_.get("Layers", []), *own.get("Layers", [])]
            specs[logical_id] = FunctionSpec(
                logical_id=logical_id,
                code_dir=ROOT / str(own.get("CodeUri", globals_.get("CodeUri", ""))),
                handler=str(own.get("Handler", globals_.get("Handler"))),
                layer_dirs=tuple(self._layer_dir(layer) for layer in layers),
                environment={
                    name: _as_env_value(value)
                    for name, value in self.resolve(environment).items()
                    if value is not NO_VALUE
                },
                timeout=int(self.resolve(own.get("Timeout", globals_.get("Timeout", 3)))),
                memory_mb=int(self.resolve(own.get("MemorySize", globals_.get("MemorySize", 128)))),
            )
        return specs

    def _layer_dir(self, layer: Any) -> Path:
        if not (isinstance(layer, dict) and list(layer) == ["Ref"]):
            raise TemplateError(f"only layers of this template (!Ref) run locally, got {layer!r}")
        resource = self.resources[layer["Ref"]]
        return ROOT / str(resource["Properties"]["ContentUri"])

    def routes(self) -> list[Route]:
        """Every HttpApi event of every function, most specific first (as API Gateway matches)."""
        default_authorizer = self._http_api().get("Properties", {}).get("Auth", {}).get("DefaultAuthorizer")
        routes = []
        for logical_id, resource in self.resources_of_type("AWS::Serverless::Function").items():
            for event in resource.get("Properties", {}).get("Events", {}).values():
                if event.get("Type") != "HttpApi":
                    continue
                props = event.get("Properties", {})
                authorizer = props.get("Auth", {}).get("Authorizer", default_authorizer)
                routes.append(
                    Route(
                        method=str(props.get("Method", "ANY")).upper(),
                        path=str(props.get("Path", "/")),
                        function=logical_id,
                        authorized=authorizer not in (None, "NONE"),
                    )
                )
        # Literal segments beat {params}, which beat {greedy+}; ANY loses to a named method.
        return sorted(routes, key=lambda r: (r.path.count("+}"), r.path.count("{"), r.method == "ANY"))

    def _http_api(self) -> dict[str, Any]:
        apis = self.resources_of_type("AWS::Serverless::HttpApi")
        if len(apis) != 1:
            raise TemplateError(f"the local stack serves exactly one HttpApi, found {len(apis)}")
        return next(iter(apis.values()))

    def authorizer(self) -> AuthorizerSpec | None:
        auth = self.resolve(self._http_api().get("Properties", {}).get("Auth", {}))
        name = auth.get("DefaultAuthorizer")
        if not name:
            return None
        spec = auth["Authorizers"][name]
        function_arn = self._http_api()["Properties"]["Auth"]["Authorizers"][name]["FunctionArn"]
        function = function_arn["Fn::GetAtt"][0] if isinstance(function_arn, dict) else None
        if not function:
            raise TemplateError("the authorizer's FunctionArn must be !GetAtt <Function>.Arn")
        identity = spec.get("Identity", {})
        return AuthorizerSpec(
            name=name,
            function=function,
            identity_headers=tuple(h.lower() for h in identity.get("Headers", ["Authorization"])),
            reauthorize_every=int(identity.get("ReauthorizeEvery", 300)),
            simple_responses=bool(spec.get("EnableSimpleResponses", False)),
            payload_version=str(spec.get("AuthorizerPayloadFormatVersion", "2.0")),
        )

    def cors(self) -> CorsSpec | None:
        config = self.resolve(self._http_api().get("Properties", {}).get("CorsConfiguration"))
        if not config:
            return None
        if config is True:
            config = {"AllowOrigins": ["*"], "AllowMethods": ["*"], "AllowHeaders": ["*"]}

        def lower(values: Any) -> tuple[str, ...]:
            return tuple(str(v).lower() for v in values or ())

        return CorsSpec(
            allow_origins=tuple(str(v) for v in config.get("AllowOrigins", ())),
            allow_methods=tuple(str(v).upper() for v in config.get("AllowMethods", ())),
            allow_headers=lower(config.get("AllowHeaders")),
            expose_headers=lower(config.get("ExposeHeaders")),
            max_age=int(config["MaxAge"]) if "MaxAge" in config else None,
            allow_credentials=bool(config.get("AllowCredentials", False)),
        )

    # ---- intrinsic functions ---------------------------------------------------------------
    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.body.get("Conditions", {})[name]))

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function replaced by its local value."""
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._function(key, arg)
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not NO_VALUE}

    def _function(self, key: str, arg: Any) -> Any:
        if key == "Fn::If":
            name, when_true, when_false = arg
            return self.resolve(when_true if self.condition(name) else when_false)
        if key == "Fn::Equals":
            left, right = (self.resolve(a) for a in arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self.resolve(arg[0])
        if key == "Fn::And":
            return all(self.resolve(a) for a in arg)
        if key == "Fn::Or":
            return any(self.resolve(a) for a in arg)
        if key == "Fn::Join":
            separator, items = arg
            return str(separator).join(str(i) for i in self.resolve(items))
        if key == "Fn::Split":
            separator, text = arg
            return str(self.resolve(text)).split(separator)
        if key == "Fn::Select":
            index, items = arg
            return self.resolve(items)[int(self.resolve(index))]
        if key == "Fn::GetAtt":
            logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
            return self.get_att(logical_id, attribute)
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
            return re.sub(r"\$\{([^}]+)\}", lambda m: self._substitute(m.group(1), variables), text)
        raise TemplateError(f"{key} is not supported by the local stack")

    def _substitute(self, name: str, variables: dict[str, Any]) -> str:
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in variables:
            return str(variables[name])
        if "." in name:
            logical_id, attribute = name.split(".", 1)
            return str(self.get_att(logical_id, attribute))
        value = self.ref(name)
        return ",".join(value) if isinstance(value, list) else str(value)

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": STACK_NAME,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical_ids:
            return self.physical_ids[name]
        if name in self.resources:
            # Resources the local stack does not create (log groups, topics...) get a stable name.
            return f"{STACK_NAME}-{name}"
        raise TemplateError(f"!Ref {name}: no such parameter or resource")

    def get_att(self, logical_id: str, attribute: str) -> str:
        if logical_id not in self.resources:
            raise TemplateError(f"!GetAtt {logical_id}.{attribute}: no such resource")
        if attribute != "Arn":
            raise TemplateError(f"!GetAtt {logical_id}.{attribute}: only .Arn is resolved locally")
        kind = self.resources[logical_id]["Type"]
        name = self.ref(logical_id)
        if str(name).startswith("arn:"):
            return str(name)
        service, resource = {
            "AWS::DynamoDB::Table": ("dynamodb", "table/"),
            "AWS::Serverless::Function": ("lambda", "function:"),
            "AWS::Logs::LogGroup": ("logs", "log-group:"),
        }.get(kind, ("local", f"{logical_id}/"))
        return f"arn:aws:{service}:{self.region}:{ACCOUNT_ID}:{resource}{name}"


def _plain(value: Any) -> Any:
    """The decoder's node objects (which carry line marks) as plain dicts, lists and strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def _as_env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)
