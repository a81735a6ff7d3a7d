"""template.yaml as the local stack sees it: functions, routes, authorizer, CORS and resources.

The template is decoded with cfn-lint's decoder (it knows CloudFormation's short tags), and
intrinsic functions are resolved here against parameter values and the physical ids of the
resources the local stack created. Everything the local stack serves comes from this one
reading, so there is no second list of routes or variables to keep in sync.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
STACK_NAME = "chatkit-backend-local"
API_ID = "localapi"

# The environment variables `make dev` reads (docs/local-stack.md: Configuration), and the template parameter each sets.
ENV_TO_PARAMETER: dict[str, str] = {
    "JWT_JWKS_URL": "JwtJwksUrl",
    "JWT_ISSUER": "JwtIssuer",
    "JWT_AUDIENCE": "JwtAudience",
    "OPENAI_BASE_URL": "OpenAIBaseUrl",
    "ALLOWED_ORIGINS": "AllowedOrigins",
    "CHATKIT_MODEL": "ChatKitModel",
    "MCP_AUTHORIZATION_SERVER": "McpAuthorizationServer",
    "MCP_RESOURCE_URL": "McpResourceUrl",
    "MCP_READ_SCOPE": "McpReadScope",
    "MCP_WRITE_SCOPE": "McpWriteScope",
    "CHATKIT_OPENAI_TIMEOUT_SECONDS": "ChatKitOpenAITimeoutSeconds",
    "CHATKIT_MESSAGES_PER_MINUTE": "ChatKitMessagesPerMinute",
    "CHATKIT_DAILY_TOKEN_BUDGET": "ChatKitDailyTokenBudget",
    "CHATKIT_SESSION_SECONDS": "ChatKitSessionSeconds",
    "MCP_CALLS_PER_MINUTE": "McpCallsPerMinute",
    "ATTACHMENT_MAX_BYTES": "AttachmentMaxBytes",
    "TRANSCRIPTION_MODEL": "TranscriptionModel",
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
    # Set when the function runs a web app behind the Lambda Web Adapter (AWS_LAMBDA_EXEC_WRAPPER):
    # the handler is then the app's start-up script, and the local stack plays the adapter.
    web_adapter: bool = False
    # SnapStart: ApplyOn PublishedVersions. Locally each new sandbox runs its snapshot hooks
    # (before-snapshot, then after-restore) right after its init, as a published version's do.
    snap_start: bool = False

    @property
    def folder(self) -> str:
        """The function's folder under functions/, which names its events/ folder too."""
        return self.code_dir.name

    def web_app(self) -> tuple[str, str]:
        """``(module, attribute)`` of the ASGI app the adapter's start-up script serves (uvicorn)."""
        script = (self.code_dir / self.handler).read_text()
        found = re.search(r"uvicorn\s+([\w.]+):(\w+)", script)
        if not self.web_adapter or found is None:
            raise TemplateError(f"{self.logical_id}: {self.handler} does not start `uvicorn <module>:<app>`")
        return found.group(1), found.group(2)


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or ANY
    path: str  # /api/chatkit/threads/{thread_id}
    function: str
    authorized: bool
    api: str = "http"  # "http" (HttpApi event) or "rest" (Api event)
    streaming: bool = False  # REST route with ResponseTransferMode RESPONSE_STREAM

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters when this route serves ``method path``, else None."""
        if self.method not in ("ANY", method):
            return None
        pattern = (
            "^" + re.sub(r"\\\{([^/}]+?)\\\+\\\}|\\\{([^/}]+)\\\}", self._group, re.escape(self.path)) + "$"
        )
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
    api: str = "http"  # "rest": a REQUEST authorizer answering with an IAM policy


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
    # Where the local gateway serves both APIs (http://host:port); once set, an API's
    # execute-api URL (``!Sub https://${Api}.execute-api...``) resolves to it.
    gateway_url: str = ""

    @classmethod
    def load(cls, overrides: dict[str, str] | None = None, path: Path = TEMPLATE_PATH) -> Template:
        try:
            stat = path.stat()
            version: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            version = None  # the decoder says what is wrong with the path
        # _plain copies: each template owns its body, whatever its caller changes in it.
        template = cls(body=_plain(_decoded(path, version)), parameters={})
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
                    raise TemplateError(
                        f"rule {name}: {assertion.get('AssertDescription', 'assertion failed')}"
                    )

    @classmethod
    def from_environment(cls, environ: dict[str, str]) -> Template:
        """The template ``LOCAL_TEMPLATE`` names (template.yaml by default), with parameters set
        from the configuration variables present in ``environ``."""
        overrides = {
            parameter: environ[variable]
            for variable, parameter in ENV_TO_PARAMETER.items()
            if environ.get(variable, "") != ""
        }
        return cls.load(overrides, Path(environ.get("LOCAL_TEMPLATE") or TEMPLATE_PATH))

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
            pattern = spec.get("AllowedPattern")
            if pattern and not re.fullmatch(str(pattern), raw):
                raise TemplateError(
                    f"parameter {name}={raw!r}: {spec.get('ConstraintDescription', f'must match {pattern}')}"
                )
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
            layers = self.function_layers(logical_id)
            web_adapter = environment.get("AWS_LAMBDA_EXEC_WRAPPER") == WEB_ADAPTER_WRAPPER
            if web_adapter:
                # The adapter's own layer holds only its binary, which the local stack stands in for.
                layers = [layer for layer in layers if not _is_web_adapter_layer(layer)]
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
                web_adapter=web_adapter,
                snap_start=(own.get("SnapStart") or {}).get("ApplyOn") == "PublishedVersions",
            )
        return specs

    def function_layers(self, logical_id: str) -> list[Any]:
        """The function's layers as written (Globals' first, as SAM merges them), unresolved."""
        globals_ = self.body.get("Globals", {}).get("Function", {})
        own = self.resources[logical_id].get("Properties", {})
        return [*globals_.get("Layers", []), *own.get("Layers", [])]

    def _layer_dir(self, layer: Any) -> Path:
        if not (isinstance(layer, dict) and list(layer) == ["Ref"]):
            raise TemplateError(f"only layers of this template (!Ref) run locally, got {layer!r}")
        resource = self.resources[layer["Ref"]]
        return ROOT / str(resource["Properties"]["ContentUri"])

    def routes(self) -> list[Route]:
        """Every HttpApi and Api event of every function, most specific first (as API Gateway matches)."""
        default_authorizer = {
            "HttpApi": self._http_api().get("Properties", {}).get("Auth", {}).get("DefaultAuthorizer"),
            "Api": (self._rest_api() or {}).get("Properties", {}).get("Auth", {}).get("DefaultAuthorizer"),
        }
        routes = []
        for logical_id, resource in self.resources_of_type("AWS::Serverless::Function").items():
            for event in resource.get("Properties", {}).get("Events", {}).values():
                kind = event.get("Type")
                if kind not in ("HttpApi", "Api"):
                    continue
                props = event.get("Properties", {})
                authorizer = props.get("Auth", {}).get("Authorizer", default_authorizer[kind])
                routes.append(
                    Route(
                        method=str(props.get("Method", "ANY")).upper(),
                        path=str(props.get("Path", "/")),
                        function=logical_id,
                        authorized=authorizer not in (None, "NONE"),
                        api="rest" if kind == "Api" else "http",
                        streaming=props.get("ResponseTransferMode") == "RESPONSE_STREAM",
                    )
                )
        # Literal segments beat {params}, which beat {greedy+}; ANY loses to a named method.
        return sorted(routes, key=lambda r: (r.path.count("+}"), r.path.count("{"), r.method == "ANY"))

    def _http_api(self) -> dict[str, Any]:
        apis = self.resources_of_type("AWS::Serverless::HttpApi")
        if len(apis) != 1:
            raise TemplateError(f"the local stack serves exactly one HttpApi, found {len(apis)}")
        return next(iter(apis.values()))

    def _rest_api(self) -> dict[str, Any] | None:
        apis = self.resources_of_type("AWS::Serverless::Api")
        if len(apis) > 1:
            raise TemplateError(f"the local stack serves at most one (REST) Api, found {len(apis)}")
        return next(iter(apis.values()), None)

    def rest_authorizer(self) -> AuthorizerSpec | None:
        """The REST API's default Lambda authorizer (REQUEST type, IAM policy answers), if any."""
        api = self._rest_api()
        return None if api is None else self._default_authorizer(api, rest=True)

    def rest_stage(self) -> str:
        """The REST API's stage name (the first path segment of its URL in AWS)."""
        api = self._rest_api()
        return str(self.resolve((api or {}).get("Properties", {}).get("StageName", "Prod")))

    def rest_gateway_responses(self) -> dict[str, list[tuple[str, str]]]:
        """The REST API's GatewayResponses: the headers it adds to its own answers, per response type.

        Only static values ('...' in the template) are served locally; the mappings API Gateway
        also allows (method.request.header.X) are named in the error.
        """
        responses = self.resolve((self._rest_api() or {}).get("Properties", {}).get("GatewayResponses") or {})
        headers: dict[str, list[tuple[str, str]]] = {}
        for kind, response in responses.items():
            for name, value in ((response.get("ResponseParameters") or {}).get("Headers") or {}).items():
                text = str(value)
                if not (len(text) >= 2 and text[0] == text[-1] == "'"):
                    raise TemplateError(
                        f"GatewayResponses {kind}: header {name} = {text}: only static '...' values run locally"
                    )
                headers.setdefault(kind, []).append((name.lower(), text[1:-1]))
        return headers

    def authorizer(self) -> AuthorizerSpec | None:
        """The HTTP API's default Lambda authorizer (payload 2.0, simple responses), if any."""
        return self._default_authorizer(self._http_api(), rest=False)

    def _default_authorizer(self, api: dict[str, Any], *, rest: bool) -> AuthorizerSpec | None:
        auth = self.resolve(api.get("Properties", {}).get("Auth", {}))
        name = auth.get("DefaultAuthorizer")
        if not name:
            return None
        spec = auth["Authorizers"][name]
        # Read unresolved: the local stack needs the function's logical id, not its ARN.
        function_arn = api["Properties"]["Auth"]["Authorizers"][name]["FunctionArn"]
        function = function_arn["Fn::GetAtt"][0] if isinstance(function_arn, dict) else None
        if not function:
            raise TemplateError(f"authorizer {name}: FunctionArn must be !GetAtt <Function>.Arn")
        if rest and spec.get("FunctionPayloadType", "TOKEN") != "REQUEST":
            raise TemplateError(
                f"authorizer {name}: the local stack serves REQUEST authorizers on the REST API"
            )
        identity = spec.get("Identity", {})
        return AuthorizerSpec(
            name=name,
            function=function,
            identity_headers=tuple(h.lower() for h in identity.get("Headers", ["Authorization"])),
            reauthorize_every=int(identity.get("ReauthorizeEvery", 300)),
            simple_responses=False if rest else bool(spec.get("EnableSimpleResponses", False)),
            payload_version="1.0" if rest else str(spec.get("AuthorizerPayloadFormatVersion", "2.0")),
            api="rest" if rest else "http",
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
            ((key, arg),) = value.items()
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
        # The functions only Rules use, as CloudFormation evaluates them on parameter values.
        if key == "Fn::Contains":
            items, item = (self.resolve(a) for a in arg)
            return str(item) in [str(i) for i in items]
        if key == "Fn::EachMemberEquals":
            items, item = (self.resolve(a) for a in arg)
            return all(str(i) == str(item) for i in items)
        if key == "Fn::EachMemberIn":
            items, allowed = (self.resolve(a) for a in arg)
            return all(str(i) in [str(a) for a in allowed] for i in items)
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
            return self._at_gateway(
                re.sub(r"\$\{([^}]+)\}", lambda m: self._substitute(m.group(1), variables), text)
            )
        raise TemplateError(f"{key} is not supported by the local stack")

    def _at_gateway(self, text: str) -> str:
        """``text`` with the invoke URLs of this template's APIs (``https://<api id>.execute-api.
        <region>.amazonaws.com``, plus ``/<stage>`` for the REST API) replaced by the local gateway's:
        it serves the HTTP API at its root and the REST API's routes without the stage."""
        if not self.gateway_url:
            return text
        apis = {
            **{api: "" for api in self.resources_of_type("AWS::Serverless::HttpApi")},
            **{api: f"/{self.rest_stage()}" for api in self.resources_of_type("AWS::Serverless::Api")},
        }
        for api, stage in apis.items():
            aws_url = f"https://{self.ref(api)}.execute-api.{self.region}.{self.ref('AWS::URLSuffix')}{stage}"
            text = text.replace(aws_url, self.gateway_url)
        return text

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
        if kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{name}"
        service, resource = {
            "AWS::DynamoDB::Table": ("dynamodb", "table/"),
            "AWS::Serverless::Function": ("lambda", "function:"),
            "AWS::Logs::LogGroup": ("logs", "log-group:"),
        }.get(kind, ("local", f"{logical_id}/"))
        return f"arn:aws:{service}:{self.region}:{ACCOUNT_ID}:{resource}{name}"


WEB_ADAPTER_WRAPPER = "/opt/bootstrap"


def _is_web_adapter_layer(layer: Any) -> bool:
    arn = layer.get("Fn::Sub") if isinstance(layer, dict) else layer
    return isinstance(arn, str) and ":753240598075:layer:LambdaAdapterLayer" in arn


@functools.lru_cache(maxsize=4)
def _decoded(path: Path, version: tuple[int, int] | None) -> Any:
    """The template file as cfn-lint decodes it, once per version (mtime, size) of the file:
    decoding takes a few hundred milliseconds of CPU, and a test run loads the template thousands
    of times."""
    # Imported here: cfn-lint takes most of a second to import, and every local Lambda
    # sandbox imports this module (for FunctionSpec) without ever reading the template.
    from cfnlint.decode import decode

    body, problems = decode(str(path))
    if body is None or problems:
        raise TemplateError(f"{path.name} does not decode: {[str(p) for p in problems]}")
    return body


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
