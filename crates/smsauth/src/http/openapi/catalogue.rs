//! What each route is: its summary, who may call it, its parameters, its answer and its error
//! codes. One entry per route of the router; the API tests fail when the two differ.

use serde_json::{Value, json};

/// Who may call a route (SPEC §2). Checked by the handlers' extractors and the core; listed
/// here for readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acl {
    Public,
    SignedIn,
    Admin,
    /// Admins read; only root writes authentication configuration or touches root users.
    Root,
}

impl Acl {
    pub fn as_str(self) -> &'static str {
        match self {
            Acl::Public => "public",
            Acl::SignedIn => "signedIn",
            Acl::Admin => "admin",
            Acl::Root => "root",
        }
    }
}

/// What a successful answer carries.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// `{"data": <schema>}`.
    Data(&'static str),
    /// `{"data": [<schema>]}`.
    List(&'static str),
    /// `{"data": [<schema>], "meta": {count, page, pageSize, totalPage}}`.
    Paged(&'static str),
    /// `{"data": null}`.
    Null,
    /// A body of this content type, not an envelope.
    Raw(&'static str, &'static str),
}

pub struct RouteDoc {
    pub path: &'static str,
    pub methods: &'static [&'static str],
    pub tag: &'static str,
    pub summary: &'static str,
    pub detail: &'static str,
    pub acl: Acl,
    /// The request body's schema name.
    pub request: Option<&'static str>,
    /// `(name, description, required)` query parameters.
    pub query: &'static [(&'static str, &'static str, bool)],
    /// Reads `X-Authenticator` (the authenticator to sign in with).
    pub authenticator: bool,
    pub answer: Answer,
    /// Error answers particular to this route; the common ones are added by [`Self::responses`].
    pub errors: &'static [(u16, &'static [&'static str])],
}

impl RouteDoc {
    /// `auth_signIn` for `/api/auth:signIn`, `healthz` for `/healthz`.
    pub fn operation_id(&self) -> String {
        let id: String = self
            .path
            .trim_start_matches("/api/")
            .trim_start_matches('/')
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        match id.trim_matches('_') {
            "" => "home".to_string(),
            id => id.to_string(),
        }
    }

    pub fn description(&self) -> String {
        let mut d = self.detail.to_string();
        if self.methods.len() == 2 {
            d.push_str("\n\nAnswers GET and POST alike (SPEC §1).");
        }
        d
    }

    pub fn parameters(&self) -> Vec<Value> {
        let mut out: Vec<Value> = self
            .query
            .iter()
            .map(|(name, description, required)| {
                json!({ "name": name, "in": "query", "required": required,
                        "description": description, "schema": { "type": "string" } })
            })
            .collect();
        if self.path.contains("{verifier}") {
            out.push(json!({ "name": "verifier", "in": "path", "required": true,
                "description": "The name of the verifier whose provider sends the receipts.",
                "schema": { "type": "string" } }));
        }
        if self.path.starts_with("/assets/") {
            out.push(json!({ "name": "file", "in": "path", "required": true,
                "description": "File name.", "schema": { "type": "string" } }));
        }
        if self.authenticator {
            out.push(json!({ "name": "X-Authenticator", "in": "header", "required": false,
                "description": "Authenticator name; the first enabled one of the needed type when absent.",
                "schema": { "type": "string" } }));
        }
        if self.path.starts_with("/api/") && self.path.contains(':') {
            out.push(json!({ "name": "X-Locale", "in": "header", "required": false,
                "description": "Language of error messages (`en-US`, `zh-CN`, …); else `?locale=`, else `Accept-Language`.",
                "schema": { "type": "string" } }));
        }
        out
    }

    /// Every error code the route can answer, by status: its own and the common ones.
    fn error_codes(&self) -> Vec<(u16, Vec<&'static str>)> {
        let mut all: Vec<(u16, Vec<&'static str>)> = Vec::new();
        let mut add = |status: u16, codes: &[&'static str]| match all
            .iter_mut()
            .find(|(s, _)| *s == status)
        {
            Some((_, list)) => {
                for c in codes {
                    if !list.contains(c) {
                        list.push(c);
                    }
                }
            }
            None => all.push((status, codes.to_vec())),
        };
        for (status, codes) in self.errors {
            add(*status, codes);
        }
        let action = self.path.starts_with("/api/") && self.path.contains(':');
        if self.request.is_some() {
            add(400, &["INVALID_JSON", "INVALID_FIELD"]);
            add(413, &["PAYLOAD_TOO_LARGE"]);
        }
        if self.acl != Acl::Public {
            add(
                401,
                &[
                    "EMPTY_TOKEN",
                    "INVALID_TOKEN",
                    "BLOCKED_TOKEN",
                    "EXPIRED_SESSION",
                    "NOT_EXIST_USER",
                    "TOKEN_RENEW_FAILED",
                ],
            );
        }
        if matches!(self.acl, Acl::Admin | Acl::Root) {
            add(403, &["FORBIDDEN"]);
        }
        if action {
            add(503, &["SERVICE_UNAVAILABLE"]);
        }
        all.sort_by_key(|(s, _)| *s);
        all
    }

    pub fn responses(&self) -> Value {
        let mut out = serde_json::Map::new();
        let ok = match self.answer {
            Answer::Data(name) => {
                envelope(json!({ "$ref": format!("#/components/schemas/{name}") }))
            }
            Answer::List(name) => envelope(json!({ "type": "array",
                "items": { "$ref": format!("#/components/schemas/{name}") } })),
            Answer::Paged(name) => json!({
                "description": "Success: one page of the list.",
                "content": { "application/json": { "schema": {
                    "type": "object", "required": ["data", "meta"], "properties": {
                        "data": { "type": "array", "items": { "$ref": format!("#/components/schemas/{name}") } },
                        "meta": { "$ref": "#/components/schemas/PageMeta" } } } } },
            }),
            Answer::Null => envelope(json!({ "type": "null" })),
            Answer::Raw(mime, description) => json!({ "description": description,
                "content": { mime: { "schema": { "type": "string" } } } }),
        };
        out.insert("200".into(), ok);
        for (status, codes) in self.error_codes() {
            let mut r = json!({
                "description": codes.join(", "),
                "x-smsauth-codes": codes,
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Errors" } } },
            });
            if status == 429 || status == 503 {
                r["headers"] = json!({ "Retry-After": { "description": "Seconds to wait.",
                    "schema": { "type": "integer" } } });
            }
            out.insert(status.to_string(), r);
        }
        Value::Object(out)
    }
}

fn envelope(data: Value) -> Value {
    json!({
        "description": "Success.",
        "content": { "application/json": { "schema": {
            "type": "object", "required": ["data"], "properties": { "data": data } } } },
    })
}

pub const INTRODUCTION: &str = "smsauth speaks NocoBase's auth API: actions are `/api/<resource>:<action>`, \
answer GET and POST alike, take their values as a JSON object in the body, and answer `{\"data\": ..}` \
or `{\"errors\": [{\"message\", \"code\"}]}` with the message in the request's language.\n\n\
Signed-in actions take `Authorization: Bearer <token>`. When a token is renewed while answering, the \
new one is in the `X-New-Token` header.\n\n\
Every error, also those of the HTTP layer (404, 405, 408, 413, 414, 431), carries the envelope. \
Busy or unavailable dependencies answer 503 `SERVICE_UNAVAILABLE` with `Retry-After`.";

pub const TAGS: &[(&str, &str)] = &[
    ("auth", "Sign-in, sign-up, the current user and sessions."),
    ("smsOTP", "Sending one-time codes by SMS."),
    (
        "authenticators",
        "The sign-in methods (password, SMS). Writes are root's.",
    ),
    (
        "verifiers",
        "SMS gateways and the phone numbers bound to a user. Writes of configuration are root's.",
    ),
    ("tokenControlConfig", "Token and session lifetimes."),
    ("users", "User administration."),
    (
        "smsDefences",
        "What SMS may be sent and paid for: the SMS policy, test numbers, delivery receipts and the audit log (SPEC §15).",
    ),
    (
        "oidc",
        "The OpenID Provider (SPEC §16): registered applications and the protocol endpoints.",
    ),
    ("operations", "Health, keys, metrics and this reference."),
    ("pages", "The web pages served by the binary."),
];

const FILTER_BY_TK: (&str, &str, bool) = ("filterByTk", "The record's key.", true);
const PAGE: (&str, &str, bool) = ("page", "Page number, from 1.", false);
const PAGE_SIZE: (&str, &str, bool) = ("pageSize", "Rows per page, 1 to 200 (20).", false);

const SEND_ERRORS: &[(u16, &[&str])] = &[
    (
        400,
        &[
            "INVALID_ACTION",
            "INVALID_VERIFIER",
            "InvalidReceiver",
            "DESTINATION_NOT_ALLOWED",
        ],
    ),
    (429, &["RateLimit"]),
    (500, &["INVALID_PROVIDER"]),
    (502, &["SEND_FAILED"]),
];

const ADMIN_WRITE_ERRORS: &[(u16, &[&str])] = &[
    (
        400,
        &[
            "DUPLICATE",
            "INVALID_NICKNAME",
            "INVALID_USERNAME",
            "INVALID_EMAIL",
            "INVALID_PASSWORD",
            "InvalidReceiver",
        ],
    ),
    (404, &["NOT_FOUND"]),
];

macro_rules! route {
    ($path:expr, $tag:expr, $acl:expr, $summary:expr, $detail:expr, $answer:expr
     $(, request = $req:expr)? $(, query = $q:expr)? $(, authenticator = $a:expr)?
     $(, errors = $e:expr)? $(, methods = $m:expr)?) => {
        RouteDoc {
            path: $path,
            methods: { let _m: &[&str] = &["get", "post"]; $( let _m: &[&str] = $m; )? _m },
            tag: $tag,
            summary: $summary,
            detail: $detail,
            acl: $acl,
            request: { let _r: Option<&str> = None; $( let _r = Some($req); )? _r },
            query: { let _q: &[(&str, &str, bool)] = &[]; $( let _q: &[(&str, &str, bool)] = $q; )? _q },
            authenticator: { let _a = false; $( let _a = $a; )? _a },
            answer: $answer,
            errors: { let _e: &[(u16, &[&str])] = &[]; $( let _e: &[(u16, &[&str])] = $e; )? _e },
        }
    };
}

/// Every route the router serves.
pub static ROUTES: &[RouteDoc] = &[
    route!(
        "/api/authenticators:publicList",
        "authenticators",
        Acl::Public,
        "Enabled authenticators, for a sign-in page",
        "Name, type, title and public options of each enabled authenticator, in order.",
        Answer::List("PublicAuthenticator")
    ),
    route!(
        "/api/smsOTP:publicCreate",
        "smsOTP",
        Acl::Public,
        "Send a sign-in code",
        "Sends a code to `uuid` for `action` `auth:signIn`. Limits per phone, address and server apply (SPEC §8); \
         a live code answers 429 with its remaining time.",
        Answer::Data("IssuedCode"),
        request = "SendCodeBody",
        errors = SEND_ERRORS
    ),
    route!(
        "/api/verifications:create",
        "smsOTP",
        Acl::Public,
        "Send a sign-in code (legacy form)",
        "NocoBase's older `{type, phone}` form of `smsOTP:publicCreate`; sends through the SMS authenticator's verifier.",
        Answer::Data("IssuedCode"),
        request = "LegacySendBody",
        authenticator = true,
        errors = SEND_ERRORS
    ),
    route!(
        "/api/auth:signIn",
        "auth",
        Acl::Public,
        "Sign in",
        "With an SMS authenticator: `{uuid, code}` (an unknown phone signs up when the authenticator allows it). \
         With a password authenticator: `{account, password}`. Answers the user and a token.",
        Answer::Data("SignedIn"),
        request = "SignInBody",
        authenticator = true,
        errors = &[
            (
                400,
                &[
                    "AUTHENTICATOR_NOT_FOUND",
                    "InvalidReceiver",
                    "InvalidVerificationCode",
                    "INVALID_ACCOUNT"
                ]
            ),
            (401, &["PHONE_NOT_REGISTERED", "INVALID_CREDENTIALS"]),
            (403, &["SIGN_UP_DISABLED"]),
            (429, &["RateLimit", "TooManyAttempts"])
        ]
    ),
    route!(
        "/api/auth:signUp",
        "auth",
        Acl::Public,
        "Sign up with a password",
        "Creates a user with the `member` role through a password authenticator that allows sign-up.",
        Answer::Data("User"),
        request = "SignUpBody",
        authenticator = true,
        errors = &[
            (
                400,
                &[
                    "AUTHENTICATOR_NOT_FOUND",
                    "DUPLICATE",
                    "INVALID_USERNAME",
                    "INVALID_EMAIL",
                    "INVALID_PASSWORD",
                    "MISSING_IDENTIFIER",
                    "PASSWORD_MISMATCH"
                ]
            ),
            (403, &["SIGN_UP_DISABLED"])
        ]
    ),
    route!(
        "/api/authenticators:listTypes",
        "authenticators",
        Acl::Admin,
        "Authenticator types",
        "The types this server implements.",
        Answer::List("AuthenticatorType")
    ),
    route!(
        "/api/authenticators:list",
        "authenticators",
        Acl::Admin,
        "List authenticators",
        "Every authenticator, in order.",
        Answer::Paged("Authenticator"),
        query = &[PAGE, PAGE_SIZE]
    ),
    route!(
        "/api/authenticators:get",
        "authenticators",
        Acl::Admin,
        "One authenticator",
        "By id.",
        Answer::Data("Authenticator"),
        query = &[FILTER_BY_TK],
        errors = &[(404, &["NOT_FOUND"])]
    ),
    route!(
        "/api/authenticators:create",
        "authenticators",
        Acl::Root,
        "Create an authenticator",
        "Root only.",
        Answer::Data("Authenticator"),
        request = "AuthenticatorBody",
        errors = &[(
            400,
            &[
                "DUPLICATE",
                "INVALID_AUTH_TYPE",
                "INVALID_NAME",
                "INVALID_OPTIONS",
                "INVALID_VERIFIER"
            ]
        )]
    ),
    route!(
        "/api/authenticators:update",
        "authenticators",
        Acl::Root,
        "Update an authenticator",
        "Root only. Fields left out keep their value.",
        Answer::Data("Authenticator"),
        request = "AuthenticatorBody",
        query = &[FILTER_BY_TK],
        errors = &[
            (
                400,
                &[
                    "DUPLICATE",
                    "INVALID_AUTH_TYPE",
                    "INVALID_NAME",
                    "INVALID_OPTIONS",
                    "INVALID_VERIFIER",
                    "LAST_AUTHENTICATOR"
                ]
            ),
            (404, &["NOT_FOUND"])
        ]
    ),
    route!(
        "/api/authenticators:destroy",
        "authenticators",
        Acl::Root,
        "Delete an authenticator",
        "Root only. The last enabled authenticator cannot be deleted.",
        Answer::Null,
        query = &[FILTER_BY_TK],
        errors = &[(400, &["LAST_AUTHENTICATOR"]), (404, &["NOT_FOUND"])]
    ),
    route!(
        "/api/authenticators:move",
        "authenticators",
        Acl::Root,
        "Reorder authenticators",
        "Root only. Moves `sourceId` to the place of `targetId`.",
        Answer::Null,
        request = "MoveBody",
        errors = &[(404, &["NOT_FOUND"])]
    ),
    route!(
        "/api/smsOTP:create",
        "smsOTP",
        Acl::SignedIn,
        "Send a code to a signed-in user",
        "For `verifiers:bind` (to the new number `uuid`) and `verifiers:unbind` (to the bound number).",
        Answer::Data("IssuedCode"),
        request = "SendCodeBody",
        errors = &[
            (
                400,
                &[
                    "INVALID_ACTION",
                    "INVALID_VERIFIER",
                    "InvalidReceiver",
                    "NOT_BOUND"
                ]
            ),
            (429, &["RateLimit"]),
            (500, &["INVALID_PROVIDER"]),
            (502, &["SEND_FAILED"])
        ]
    ),
    route!(
        "/api/smsOTPProviders:list",
        "verifiers",
        Acl::Admin,
        "SMS provider types",
        "Each provider type with the settings it needs.",
        Answer::List("ProviderType")
    ),
    route!(
        "/api/auth:check",
        "auth",
        Acl::SignedIn,
        "The current user",
        "Checks the token (renewing it when due) and answers its user.",
        Answer::Data("User")
    ),
    route!(
        "/api/auth:signOut",
        "auth",
        Acl::SignedIn,
        "Sign out",
        "Ends the token's session; the token is refused from then on.",
        Answer::Null
    ),
    route!(
        "/api/auth:changePassword",
        "auth",
        Acl::SignedIn,
        "Change the password",
        "Ends every other session of the user.",
        Answer::Null,
        request = "ChangePasswordBody",
        errors = &[
            (400, &["INVALID_PASSWORD", "PASSWORD_MISMATCH"]),
            (401, &["INVALID_CREDENTIALS"]),
            (429, &["TooManyAttempts"])
        ]
    ),
    route!(
        "/api/verifiers:listTypes",
        "verifiers",
        Acl::Admin,
        "Verification types",
        "`sms-otp`.",
        Answer::List("VerificationType")
    ),
    route!(
        "/api/verifiers:listByScene",
        "verifiers",
        Acl::Admin,
        "Verifiers for a scene",
        "For the SMS authenticator's form (`scene=auth-sms`).",
        Answer::Data("VerifiersByScene"),
        query = &[("scene", "`auth-sms`.", false)]
    ),
    route!(
        "/api/verifiers:list",
        "verifiers",
        Acl::Admin,
        "List verifiers",
        "Provider secrets are masked (`******`).",
        Answer::Paged("Verifier"),
        query = &[PAGE, PAGE_SIZE]
    ),
    route!(
        "/api/verifiers:get",
        "verifiers",
        Acl::Admin,
        "One verifier",
        "By name; secrets masked.",
        Answer::Data("Verifier"),
        query = &[FILTER_BY_TK],
        errors = &[(404, &["NOT_FOUND"])]
    ),
    route!(
        "/api/verifiers:create",
        "verifiers",
        Acl::Root,
        "Create a verifier",
        "Root only.",
        Answer::Data("Verifier"),
        request = "VerifierBody",
        errors = &[(
            400,
            &["DUPLICATE", "INVALID_NAME", "INVALID_PROVIDER_SETTINGS"]
        )]
    ),
    route!(
        "/api/verifiers:update",
        "verifiers",
        Acl::Root,
        "Update a verifier",
        "Root only. A masked secret sent back keeps its stored value.",
        Answer::Data("Verifier"),
        request = "VerifierBody",
        query = &[FILTER_BY_TK],
        errors = &[(400, &["INVALID_PROVIDER_SETTINGS"]), (404, &["NOT_FOUND"])]
    ),
    route!(
        "/api/verifiers:destroy",
        "verifiers",
        Acl::Root,
        "Delete a verifier",
        "Root only. A verifier an authenticator uses cannot be deleted.",
        Answer::Null,
        query = &[FILTER_BY_TK],
        errors = &[(400, &["VERIFIER_IN_USE"]), (404, &["NOT_FOUND"])]
    ),
    route!(
        "/api/verifiers:listByUser",
        "verifiers",
        Acl::SignedIn,
        "The caller's verifiers",
        "Each SMS verifier with whether the caller has a number bound (masked).",
        Answer::List("UserVerifier")
    ),
    route!(
        "/api/verifiers:listForVerify",
        "verifiers",
        Acl::SignedIn,
        "Verifiers the caller can verify with",
        "Those with a bound number.",
        Answer::List("UserVerifier"),
        query = &[("scene", "The scene asking.", false)]
    ),
    route!(
        "/api/verifiers:bind",
        "verifiers",
        Acl::SignedIn,
        "Bind a phone number",
        "With the code sent by `smsOTP:create` (`verifiers:bind`).",
        Answer::Null,
        request = "BindBody",
        errors = &[
            (
                400,
                &[
                    "INVALID_VERIFIER",
                    "InvalidReceiver",
                    "InvalidVerificationCode",
                    "ALREADY_BOUND",
                    "DUPLICATE"
                ]
            ),
            (429, &["RateLimit", "TooManyAttempts"])
        ]
    ),
    route!(
        "/api/verifiers:unbind",
        "verifiers",
        Acl::SignedIn,
        "Unbind a phone number",
        "With the code sent to the bound number (`verifiers:unbind`).",
        Answer::Null,
        request = "UnbindBody",
        errors = &[
            (
                400,
                &["INVALID_VERIFIER", "InvalidVerificationCode", "NOT_BOUND"]
            ),
            (429, &["RateLimit", "TooManyAttempts"])
        ]
    ),
    route!(
        "/api/tokenControlConfig:get",
        "tokenControlConfig",
        Acl::Admin,
        "The token policy",
        "`filterByTk=token-policy-config`.",
        Answer::Data("TokenPolicy"),
        query = &[("filterByTk", "`token-policy-config`.", false)]
    ),
    route!(
        "/api/tokenControlConfig:update",
        "tokenControlConfig",
        Acl::Root,
        "Change the token policy",
        "Root only. The token lifetime may not exceed the session lifetime.",
        Answer::Data("TokenPolicy"),
        request = "TokenPolicyBody",
        query = &[("filterByTk", "`token-policy-config`.", false)],
        errors = &[(400, &["INVALID_TOKEN_POLICY"])]
    ),
    route!(
        "/api/users:list",
        "users",
        Acl::Admin,
        "List users",
        "Newest first, paged; `search` (or NocoBase's `filter`) matches phone, username, email or nickname.",
        Answer::Paged("User"),
        query = &[
            PAGE,
            PAGE_SIZE,
            ("search", "Text to look for.", false),
            ("filter", "NocoBase's JSON filter.", false)
        ]
    ),
    route!(
        "/api/users:get",
        "users",
        Acl::Admin,
        "One user",
        "By id.",
        Answer::Data("User"),
        query = &[FILTER_BY_TK],
        errors = &[(404, &["NOT_FOUND"])]
    ),
    route!(
        "/api/users:create",
        "users",
        Acl::Admin,
        "Create a user",
        "Granting `root` is root's alone.",
        Answer::Data("User"),
        request = "UserBody",
        errors = ADMIN_WRITE_ERRORS
    ),
    route!(
        "/api/users:update",
        "users",
        Acl::Admin,
        "Update a user",
        "Root users are changed only by root. A new password ends the user's sessions.",
        Answer::Data("User"),
        request = "UserBody",
        query = &[FILTER_BY_TK],
        errors = ADMIN_WRITE_ERRORS
    ),
    route!(
        "/api/users:destroy",
        "users",
        Acl::Admin,
        "Delete a user",
        "Root users are deleted only by root; the last root cannot be.",
        Answer::Null,
        query = &[FILTER_BY_TK],
        errors = &[(404, &["NOT_FOUND"])]
    ),
    route!(
        "/api/users:revokeSessions",
        "users",
        Acl::Admin,
        "End a user's sessions",
        "Every token of the user is refused from then on.",
        Answer::Null,
        query = &[FILTER_BY_TK],
        errors = &[(404, &["NOT_FOUND"])]
    ),
    route!(
        "/api/smsPolicy:get",
        "smsDefences",
        Acl::Admin,
        "Read the SMS policy",
        "Allowed and denied countries, allowed number types, pumping detection, daily budgets and whether numbers without an account are sent codes (SPEC §15.1).",
        Answer::Data("SmsPolicy")
    ),
    route!(
        "/api/smsPolicy:update",
        "smsDefences",
        Acl::Admin,
        "Change the SMS policy",
        "The body is a patch: the fields it names change, objects are merged key by key. In force on every instance within a second; audited.",
        Answer::Data("SmsPolicy"),
        request = "SmsPolicy",
        errors = &[(400, &["INVALID_SMS_POLICY"])]
    ),
    route!(
        "/api/smsTestNumbers:list",
        "smsDefences",
        Acl::Admin,
        "List test numbers",
        "Numbers and prefixes with a fixed code (SPEC §15.4), expired ones included.",
        Answer::Paged("TestNumber"),
        query = &[PAGE, PAGE_SIZE]
    ),
    route!(
        "/api/smsTestNumbers:create",
        "smsDefences",
        Acl::Root,
        "Create a test number",
        "Root only: a fixed code signs in as whoever owns the number. Sends to it call no provider and count against no limit or budget.",
        Answer::Data("TestNumber"),
        request = "TestNumberBody",
        errors = &[(400, &["INVALID_TEST_NUMBER", "DUPLICATE"])]
    ),
    route!(
        "/api/smsTestNumbers:update",
        "smsDefences",
        Acl::Root,
        "Change a test number",
        "Root only. The fields given change.",
        Answer::Data("TestNumber"),
        request = "TestNumberBody",
        query = &[FILTER_BY_TK],
        errors = &[
            (400, &["INVALID_TEST_NUMBER", "DUPLICATE"]),
            (404, &["NOT_FOUND"])
        ]
    ),
    route!(
        "/api/smsTestNumbers:destroy",
        "smsDefences",
        Acl::Root,
        "Delete a test number",
        "Root only.",
        Answer::Null,
        query = &[FILTER_BY_TK],
        errors = &[(404, &["NOT_FOUND"])]
    ),
    route!(
        "/api/smsGuard:status",
        "smsDefences",
        Acl::Admin,
        "SMS-pumping detection: the current windows",
        "Per number prefix and per country: codes sent and verified in the current window and any block in force, the worst first (SPEC §15.2).",
        Answer::Data("GuardStatus")
    ),
    route!(
        "/api/smsGuard:unblock",
        "smsDefences",
        Acl::Admin,
        "Lift a pumping block",
        "`{\"prefix\"}` or `{\"country\"}`; the window that caused it is forgotten too. Audited.",
        Answer::Null,
        request = "UnblockBody"
    ),
    route!(
        "/api/auditLogs:list",
        "smsDefences",
        Acl::Admin,
        "Search the audit log",
        "Sign-ins, sends, blocks, receipts, revocations and administrators' writes, newest first (SPEC §15.5). Phones are masked; `phone` finds an exact number through a keyed hash.",
        Answer::Paged("AuditEvent"),
        query = &[
            PAGE,
            PAGE_SIZE,
            (
                "filter",
                "JSON: `type` (prefix), `userId`, `phone`, `since`, `until` (RFC 3339).",
                false
            ),
            ("type", "Type prefix (`sms.`).", false),
            ("userId", "User id.", false),
            ("phone", "An exact phone number.", false),
            ("since", "RFC 3339 time, inclusive.", false),
            ("until", "RFC 3339 time, inclusive.", false),
        ],
        errors = &[(400, &["INVALID_FIELD", "InvalidReceiver"])]
    ),
    route!(
        "/api/smsDelivery:report/{verifier}",
        "smsDefences",
        Acl::Public,
        "Receive delivery receipts",
        "Where a provider pushes delivery receipts (SPEC §15.3, docs/providers.md): Twilio's StatusCallback (X-Twilio-Signature), the webhook provider (X-Signature-256), Aliyun and Tencent (`?token=`). Unknown message ids are ignored.",
        Answer::Raw(
            "application/json",
            "The provider's documented acknowledgement."
        ),
        errors = &[
            (400, &["INVALID_RECEIPT"]),
            (401, &["RECEIPT_UNAUTHENTICATED"]),
            (404, &["NOT_FOUND"])
        ]
    ),
    route!(
        "/api/oidcClients:list",
        "oidc",
        Acl::Admin,
        "OpenID Connect clients",
        "The applications that may sign users in through the OpenID Provider (SPEC §16). Secrets are never shown.",
        Answer::Paged("OidcClient"),
        query = &[PAGE, PAGE_SIZE]
    ),
    route!(
        "/api/oidcClients:get",
        "oidc",
        Acl::Admin,
        "One OpenID Connect client",
        "By `filterByTk` = its `clientId`.",
        Answer::Data("OidcClient"),
        query = &[FILTER_BY_TK],
        errors = &[(404, &["NOT_FOUND"])]
    ),
    route!(
        "/api/oidcClients:create",
        "oidc",
        Acl::Root,
        "Register an application",
        "Root only. Answers the client with its `clientSecret` (confidential clients), shown this once and stored as a keyed hash. \
         Redirect URIs are compared exactly.",
        Answer::Data("OidcClientWithSecret"),
        request = "OidcClientBody",
        errors = &[(400, &["INVALID_OIDC_CLIENT"])]
    ),
    route!(
        "/api/oidcClients:update",
        "oidc",
        Acl::Root,
        "Change an application",
        "Root only. The fields given change; making a public client confidential answers its new `clientSecret`.",
        Answer::Data("OidcClientWithSecret"),
        request = "OidcClientBody",
        query = &[FILTER_BY_TK],
        errors = &[(400, &["INVALID_OIDC_CLIENT"]), (404, &["NOT_FOUND"])]
    ),
    route!(
        "/api/oidcClients:rotateSecret",
        "oidc",
        Acl::Root,
        "Replace a client secret",
        "Root only. The old secret stops working at once; the new one is in the answer, this once.",
        Answer::Data("OidcClientWithSecret"),
        query = &[FILTER_BY_TK],
        errors = &[(400, &["INVALID_OIDC_CLIENT"]), (404, &["NOT_FOUND"])]
    ),
    route!(
        "/api/oidcClients:destroy",
        "oidc",
        Acl::Root,
        "Remove an application",
        "Root only. Its consents, codes and every grant issued to it end.",
        Answer::Null,
        query = &[FILTER_BY_TK],
        errors = &[(404, &["NOT_FOUND"])]
    ),
    route!(
        "/.well-known/openid-configuration",
        "oidc",
        Acl::Public,
        "OpenID Provider metadata",
        "OpenID Connect Discovery 1.0; `issuer` is `public_url`.",
        Answer::Raw("application/json", "The provider metadata."),
        methods = &["get"]
    ),
    route!(
        "/oidc/authorize",
        "oidc",
        Acl::Public,
        "Authorization endpoint",
        "Code flow with PKCE S256 (required for public clients), `state`, `nonce`, `prompt`, `max_age`. \
         An unknown client or redirect URI gets a translated error page (400, no redirect); other errors \
         redirect with `error`, `state` and `iss` (RFC 9207). Without a browser session the user is sent to `/signin`.",
        Answer::Raw("text/html", "A redirect, or the error page."),
        methods = &["get", "post"]
    ),
    route!(
        "/oidc/interaction",
        "oidc",
        Acl::Public,
        "The consent page's questions and answers",
        "GET with the authorization query: the client's name, the scopes and the signed-in user. \
         POST `{\"query\", \"allow\"}` (JSON only, same origin): where to go next. Needs the browser session cookie.",
        Answer::Raw(
            "application/json",
            "`{\"data\": {\"client\", \"scopes\", \"user\"}}` or `{\"data\": {\"redirect\"}}`."
        ),
        methods = &["get", "post"]
    ),
    route!(
        "/oidc/client",
        "oidc",
        Acl::Public,
        "The application of an authorization request",
        "With the authorization query: `{\"data\": {\"clientId\", \"name\"}}` when the authorization endpoint would accept it, \
         for the sign-in page to name the application; 400 otherwise.",
        Answer::Raw("application/json", "`{\"data\": {\"clientId\", \"name\"}}`"),
        methods = &["get"]
    ),
    route!(
        "/oidc/consent",
        "oidc",
        Acl::Public,
        "Consent page",
        "Asks the user to allow an application the requested scopes.",
        Answer::Raw("text/html", "The page."),
        methods = &["get"]
    ),
    route!(
        "/oidc/session",
        "oidc",
        Acl::Public,
        "Open the provider's browser session",
        "With `Authorization: Bearer <token>` of a sign-in: sets the `smsauth_op` cookie (HttpOnly, Path=/oidc, SameSite=Lax). 204.",
        Answer::Raw("text/plain", "No content."),
        methods = &["post"]
    ),
    route!(
        "/oidc/token",
        "oidc",
        Acl::Public,
        "Token endpoint",
        "Form-encoded `authorization_code` (code, redirect_uri, code_verifier) and `refresh_token` grants; \
         client_secret_basic, client_secret_post or a public client's `client_id`. Errors as RFC 6749 §5.2 \
         (`invalid_client` is 401 with `WWW-Authenticate`). Codes live 60 s and work once; refresh tokens rotate.",
        Answer::Raw(
            "application/json",
            "`{access_token, token_type, expires_in, id_token, scope, refresh_token?}`"
        ),
        methods = &["post"]
    ),
    route!(
        "/oidc/userinfo",
        "oidc",
        Acl::Public,
        "UserInfo endpoint",
        "With a bearer access token: `sub` and the claims of its scopes. 401 with `WWW-Authenticate: Bearer error=\"invalid_token\"` otherwise.",
        Answer::Raw("application/json", "The claims."),
        methods = &["get", "post"]
    ),
    route!(
        "/oidc/revoke",
        "oidc",
        Acl::Public,
        "Token revocation",
        "RFC 7009: a refresh or access token of the authenticated client; its grant ends. 200 for any token.",
        Answer::Raw("text/plain", "Empty."),
        methods = &["post"]
    ),
    route!(
        "/oidc/logout",
        "oidc",
        Acl::Public,
        "RP-initiated logout",
        "Ends the browser session and its grants; redirects to a registered `post_logout_redirect_uri` with `state`, \
         or shows the signed-out page.",
        Answer::Raw("text/html", "A redirect or the page."),
        methods = &["get", "post"]
    ),
    route!(
        "/healthz",
        "operations",
        Acl::Public,
        "Liveness",
        "200 while the process serves requests.",
        Answer::Raw("application/json", "`{\"status\":\"ok\"}`"),
        methods = &["get"]
    ),
    route!(
        "/readyz",
        "operations",
        Acl::Public,
        "Readiness",
        "200 when every dependency answers (a real write to the store, Redis when configured); \
         503 naming the failing one otherwise.",
        Answer::Raw(
            "application/json",
            "`{\"status\":\"ready\"}` or the failing dependency"
        ),
        methods = &["get"]
    ),
    route!(
        "/.well-known/jwks.json",
        "operations",
        Acl::Public,
        "Token signing keys",
        "The public keys that verify tokens and ID tokens (JWK Set, RFC 7517): the Ed25519 key and the OpenID Provider's RS256 key, each with its `kid`.",
        Answer::Raw("application/json", "A JWK Set."),
        methods = &["get"]
    ),
    route!(
        "/metrics",
        "operations",
        Acl::Public,
        "Prometheus metrics",
        "OpenMetrics text, when `metrics.enabled`; with `metrics.token` set, that bearer token is required. \
         docs/metrics.md lists each metric.",
        Answer::Raw("application/openmetrics-text", "Metrics."),
        methods = &["get"]
    ),
    route!(
        "/api/openapi.json",
        "operations",
        Acl::Public,
        "This document",
        "The OpenAPI 3.1 reference of every route.",
        Answer::Raw("application/json", "An OpenAPI document."),
        methods = &["get"]
    ),
    route!(
        "/api/docs",
        "pages",
        Acl::Public,
        "API reference page",
        "Renders this document.",
        Answer::Raw("text/html", "The page."),
        methods = &["get"]
    ),
    route!(
        "/",
        "pages",
        Acl::Public,
        "Home",
        "Redirects to `/account`.",
        Answer::Raw("text/html", "A redirect."),
        methods = &["get"]
    ),
    route!(
        "/signin",
        "pages",
        Acl::Public,
        "Sign-in page",
        "SMS and password sign-in (SPEC §14).",
        Answer::Raw("text/html", "The page."),
        methods = &["get"]
    ),
    route!(
        "/admin",
        "pages",
        Acl::Public,
        "Administration page",
        "Authenticators, verifiers, token policy and users; the page signs in an admin.",
        Answer::Raw("text/html", "The page."),
        methods = &["get"]
    ),
    route!(
        "/account",
        "pages",
        Acl::Public,
        "Account page",
        "The signed-in user's phone numbers, password and sign-out.",
        Answer::Raw("text/html", "The page."),
        methods = &["get"]
    ),
    route!(
        "/assets/{file}",
        "pages",
        Acl::Public,
        "Page assets",
        "Scripts and styles of the pages.",
        Answer::Raw("text/javascript", "The file."),
        methods = &["get"]
    ),
    route!(
        "/assets/i18n/{file}",
        "pages",
        Acl::Public,
        "Message catalogues",
        "`index.json` (the locales) or `<locale>.json`.",
        Answer::Raw("application/json", "The catalogue."),
        methods = &["get"]
    ),
];

/// Schemas of answers that are built in the handlers rather than typed.
pub fn extra_schemas() -> Vec<(&'static str, Value)> {
    let r = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
    vec![
        (
            "OidcClient",
            json!({ "type": "object", "properties": {
            "clientId": { "type": "string" },
            "name": { "type": "string" },
            "redirectUris": { "type": "array", "items": { "type": "string" } },
            "postLogoutRedirectUris": { "type": "array", "items": { "type": "string" } },
            "public": { "type": "boolean" },
            "firstParty": { "type": "boolean" },
            "idTokenSignedResponseAlg": { "type": "string", "enum": ["RS256", "EdDSA"] },
            "createdAt": { "type": "string", "format": "date-time" },
            "updatedAt": { "type": "string", "format": "date-time" } } }),
        ),
        (
            "OidcClientWithSecret",
            json!({ "allOf": [r("OidcClient"), { "type": "object", "properties": {
            "clientSecret": { "type": "string", "description": "Shown this once." } } }] }),
        ),
        (
            "TestNumber",
            json!({ "type": "object", "properties": {
            "id": { "type": "integer" },
            "phone": { "type": "string", "description": "E.164 number, or a prefix ending in `*`." },
            "code": { "type": "string" },
            "expiresAt": { "type": "string", "format": "date-time" },
            "note": { "type": ["string", "null"] } } }),
        ),
        (
            "GuardStatus",
            json!({ "type": "object", "properties": {
            "prefixes": { "type": "array", "items": { "type": "object", "properties": {
                "prefix": { "type": "string" }, "country": { "type": ["string", "null"] },
                "sent": { "type": "integer" }, "verified": { "type": "integer" },
                "delivered": { "type": "integer" }, "undelivered": { "type": "integer" },
                "blockedUntil": { "type": ["string", "null"], "format": "date-time" } } } },
            "countries": { "type": "array", "items": { "type": "object", "properties": {
                "country": { "type": "string" }, "sent": { "type": "integer" },
                "verified": { "type": "integer" }, "conversion": { "type": "number" },
                "delivered": { "type": "integer" }, "undelivered": { "type": "integer" },
                "blockedUntil": { "type": ["string", "null"], "format": "date-time" } } } } } }),
        ),
        (
            "AuditEvent",
            json!({ "type": "object", "properties": {
            "id": { "type": "integer" },
            "time": { "type": "string", "format": "date-time" },
            "type": { "type": "string", "description": "`signIn.success`, `signIn.failure`, `sms.sent`, `sms.failed`, `sms.blocked`, `sms.delivered`, `sms.undelivered`, `session.revoked`, `admin.<resource>.<action>`." },
            "ip": { "type": ["string", "null"] },
            "userId": { "type": ["integer", "null"] },
            "phone": { "type": ["string", "null"], "description": "Masked: `+86*******8000`." },
            "authenticator": { "type": ["string", "null"] },
            "verifier": { "type": ["string", "null"] },
            "detail": { "type": "object" } } }),
        ),
        (
            "Errors",
            json!({ "type": "object", "required": ["errors"], "properties": { "errors": {
            "type": "array", "items": { "type": "object", "required": ["message", "code"], "properties": {
                "message": { "type": "string", "description": "In the request's language." },
                "code": { "type": "string", "description": "Stable; listed per response." } } } } } }),
        ),
        (
            "IssuedCode",
            json!({ "type": "object", "properties": {
            "id": { "type": "string", "format": "uuid" },
            "expiresAt": { "type": "string", "format": "date-time" } } }),
        ),
        (
            "SignedIn",
            json!({ "type": "object", "properties": {
            "user": r("User"), "token": { "type": "string", "description": "A JWT for `Authorization: Bearer`." } } }),
        ),
        (
            "PageMeta",
            json!({ "type": "object", "properties": {
            "count": { "type": "integer", "description": "Rows in the whole list." },
            "page": { "type": "integer" }, "pageSize": { "type": "integer" },
            "totalPage": { "type": "integer" } } }),
        ),
        (
            "PublicAuthenticator",
            json!({ "type": "object", "properties": {
            "name": { "type": "string" }, "authType": { "type": "string" },
            "authTypeTitle": { "type": "string" }, "title": { "type": ["string", "null"] },
            "options": { "type": "object" } } }),
        ),
        (
            "AuthenticatorType",
            json!({ "type": "object", "properties": {
            "name": { "type": "string" }, "title": { "type": "string" } } }),
        ),
        (
            "VerificationType",
            json!({ "type": "object", "properties": {
            "name": { "type": "string" }, "title": { "type": "string" } } }),
        ),
        (
            "ProviderType",
            json!({ "type": "object", "properties": {
            "name": { "type": "string" }, "title": { "type": "string" } } }),
        ),
        (
            "VerifiersByScene",
            json!({ "type": "object", "properties": {
            "verifiers": { "type": "array", "items": { "type": "object", "properties": {
                "name": { "type": "string" }, "title": { "type": ["string", "null"] } } } },
            "availableTypes": { "type": "array", "items": r("VerificationType") } } }),
        ),
        (
            "UserVerifier",
            json!({ "type": "object", "properties": {
            "name": { "type": "string" }, "title": { "type": ["string", "null"] },
            "verificationType": { "type": "string" }, "boundInfo": { "type": "object",
                "properties": { "bound": { "type": "boolean" }, "publicInfo": { "type": "string",
                    "description": "The bound number, masked." } } } } }),
        ),
        (
            "TokenPolicy",
            json!({ "type": "object", "properties": {
            "key": { "type": "string", "const": "token-policy-config" }, "config": r("TokenPolicyConfig") } }),
        ),
    ]
}
