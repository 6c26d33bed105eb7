//! The dispatcher console: server-rendered HTML for the desk, with a little JavaScript that keeps
//! the open page current through server-sent events (docs/adr/0004-console-rendering.md).
//!
//! It is a second face of the dispatcher API, not a second desk: sessions are the API's sessions
//! (in a cookie instead of a bearer header), and every action goes through the same
//! `api::dispatcher::desk`, so the rulebook decides exactly as it does for JSON clients.
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | routes, the cookie session, CSRF, login/logout, language, static files, photos |
//! | `html.rs` | escaping, the page frame, labels in zh-CN and en |
//! | `board.rs` | the board, its live event stream |
//! | `job.rs` | a job's page and the desk's forms |
//! | `technicians.rs` | technicians, enrolment codes, per-technician figures |
//! | `day.rs` | one technician's day: visits on a timeline, schedule conflicts marked |
//! | `webhooks.rs` | the organisation's webhook receivers and the delivery log |

mod board;
mod day;
pub(crate) mod html;
mod job;
mod technicians;
mod webhooks;

use axum::Router;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Duration;
use fieldcore::domain::Lang;
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

use crate::AppState;
use crate::api::dispatcher::{organisation, photo_response};
use crate::auth::{DispatcherAuth, decoy_hash, new_token, sha256_hex, token_hash, verify_password};
use crate::error::ApiError;
use crate::storage::{Organisation, StorageError};

use html::{Frame, Ui, csrf_field, esc, notice, page};

pub const SESSION_COOKIE: &str = "fc_session";
const LOGIN_COOKIE: &str = "fc_login";
const LANG_COOKIE: &str = "fc_lang";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(board::board))
        .route("/console/", get(|| async { Redirect::to("/console") }))
        .route("/console/events", get(board::events))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/lang", get(set_lang))
        .route("/console/static/console.css", get(css))
        .route("/console/static/console.js", get(js))
        .route(
            "/console/technicians",
            get(technicians::page).post(technicians::create),
        )
        .route(
            "/console/technicians/{id}/enrolment-code",
            post(technicians::enrolment_code),
        )
        .route("/console/technicians/{id}/day", get(day::page))
        .route(
            "/console/webhooks",
            get(webhooks::page).post(webhooks::create),
        )
        .route("/console/webhooks/{id}/delete", post(webhooks::delete))
        .route(
            "/console/webhooks/deliveries/{id}/retry",
            post(webhooks::retry),
        )
        .route("/console/jobs/new", get(job::new_page))
        .route("/console/jobs", post(job::create))
        .route("/console/jobs/{id}", get(job::page))
        .route("/console/jobs/{id}/{action}", post(job::act))
        .route("/console/jobs/{id}/evidence.pdf", get(evidence_report))
        .route("/console/jobs/{id}/evidence.zip", get(evidence_bundle))
        .route("/console/photos/{id}", get(photo))
}

// ---------------------------------------------------------------- errors

/// A console handler's failure: already a response (an HTML page, a redirect or, for storage
/// trouble, the API's problem document). Boxed so `Result<_, ConsoleError>` stays small.
#[derive(Debug)]
pub struct ConsoleError(Box<Response>);

impl ConsoleError {
    fn new(res: Response) -> Self {
        ConsoleError(Box::new(res))
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        *self.0
    }
}

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        ConsoleError::new(e.into_response())
    }
}

impl From<StorageError> for ConsoleError {
    fn from(e: StorageError) -> Self {
        ConsoleError::new(ApiError::from(e).into_response())
    }
}

pub type PageResult = Result<Response, ConsoleError>;

/// A plain page saying what went wrong, with a way back.
fn error_page(c: &Console, status: StatusCode, text: &str) -> ConsoleError {
    let ui = c.ui();
    let body = format!(
        "{}<p><a href=\"/console\">{}</a></p>",
        notice("error", text),
        ui.t("Back to the board", "返回看板")
    );
    ConsoleError::new(
        (
            status,
            Html(c.page(ui.t("Error", "出错了"), "/console", &body)),
        )
            .into_response(),
    )
}

fn not_found(c: &Console) -> ConsoleError {
    error_page(
        c,
        StatusCode::NOT_FOUND,
        c.ui().t("Not found.", "找不到该内容。"),
    )
}

// ---------------------------------------------------------------- cookies, session, CSRF

/// The console session's token, from its cookie.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, SESSION_COOKIE)
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if state.config.console_secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age_secs}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// The per-session CSRF token: derived from the session token, which only the server and the
/// HttpOnly cookie know, so nothing new is stored and another site cannot compute it.
fn csrf_for(session_token: &str) -> String {
    sha256_hex(format!("fieldcore-console-csrf:{session_token}").as_bytes())
}

/// Equal without telling an attacker, through timing, how much of a guess was right.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

fn lang_of(parts: &Parts) -> Lang {
    lang_from(&parts.headers, &parts.uri)
}

/// `?lang=` first (a shareable link), then the switch's cookie, then the browser's preference.
fn lang_from(headers: &HeaderMap, uri: &Uri) -> Lang {
    let q: Option<Lang> = uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "lang")
            .and_then(|(_, v)| Lang::parse(v))
    });
    q.or_else(|| cookie(headers, LANG_COOKIE).and_then(Lang::parse))
        .unwrap_or_else(|| crate::api::request_lang(headers))
}

/// A request from a logged-in dispatcher, with what every console page needs.
#[derive(Debug, Clone)]
pub struct Console {
    pub auth: DispatcherAuth,
    pub org: Organisation,
    pub lang: Lang,
    pub csrf: String,
}

impl Console {
    pub fn ui(&self) -> Ui {
        Ui {
            lang: self.lang,
            offset: self.org.policy.calendar.offset(),
        }
    }

    pub fn page(&self, title: &str, here: &str, body: &str) -> String {
        page(
            &Frame {
                ui: self.ui(),
                title,
                who: Some((&self.auth.dispatcher.name, &self.csrf)),
                here,
            },
            body,
        )
    }

    /// Refuse a form without this session's token (CSRF). `SameSite=Lax` already keeps the
    /// cookie off cross-site POSTs in current browsers; the token covers the rest.
    pub fn check_csrf(&self, form: &HashMap<String, String>) -> Result<(), ConsoleError> {
        match form.get("csrf") {
            Some(t) if same(t, &self.csrf) => Ok(()),
            _ => Err(error_page(
                self,
                StatusCode::FORBIDDEN,
                self.ui().t(
                    "This form has expired or did not come from this console. Reload the page and try again.",
                    "表单已过期或来源不明，请刷新页面后重试。",
                ),
            )),
        }
    }
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let to_login = || {
            let next = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/console");
            Redirect::to(&format!("/console/login?next={}", html::url(next))).into_response()
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_login());
        };
        let hash = token_hash(token);
        let dispatcher = match state.storage.session(&hash, state.config.clock.now()).await {
            Ok(Some(d)) => d,
            Ok(None) => return Err(to_login()),
            Err(e) => return Err(ApiError::from(e).into_response()),
        };
        let auth = DispatcherAuth {
            dispatcher,
            token_hash: hash,
        };
        let org = organisation(state, &auth)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Console {
            csrf: csrf_for(token),
            auth,
            org,
            lang: lang_of(parts),
        })
    }
}

/// Only the console's own pages: `next=//evil.example` must not redirect away. Browsers drop
/// tabs and newlines from URLs (so `/\t/evil.example` is `//evil.example`) and read `\` as `/`,
/// so only visible ASCII is accepted, no backslash, no `//` anywhere; anything odd goes to the
/// board, never to an error.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p)
            if (p == "/console" || p.starts_with("/console/") || p.starts_with("/console?"))
                && p.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
                && !p.contains("//") =>
        {
            p.to_string()
        }
        _ => "/console".to_string(),
    }
}

// ---------------------------------------------------------------- login, logout, language

#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

fn login_html(state_ui: Ui, login_token: &str, next: &str, error: Option<&str>) -> String {
    let ui = state_ui;
    let body = format!(
        "{err}<form method=\"post\" action=\"/console/login\" class=\"card login\">\
         <input type=\"hidden\" name=\"login_csrf\" value=\"{tok}\">\
         <input type=\"hidden\" name=\"next\" value=\"{next}\">\
         <label>{email} <input type=\"email\" name=\"email\" autocomplete=\"username\" required autofocus></label>\
         <label>{pw} <input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label>\
         <button type=\"submit\">{go}</button></form>",
        err = error.map(|e| notice("error", e)).unwrap_or_default(),
        tok = esc(login_token),
        next = esc(next),
        email = ui.t("Email", "邮箱"),
        pw = ui.t("Password", "密码"),
        go = ui.t("Log in", "登录"),
    );
    page(
        &Frame {
            ui,
            title: ui.t("Dispatcher console", "调度控制台"),
            who: None,
            here: "/console/login",
        },
        &body,
    )
}

fn anon_ui(parts_lang: Lang) -> Ui {
    Ui {
        lang: parts_lang,
        offset: chrono::FixedOffset::east_opt(0).expect("zero offset"),
    }
}

/// The login form. Login CSRF (someone logging the victim into the attacker's account) is
/// stopped by a double-submit token: a random cookie that the form must repeat.
async fn login_page(
    State(state): State<AppState>,
    Query(q): Query<NextQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let token = new_token();
    let next = local_path(q.next.as_deref());
    let ui = anon_ui(lang_from(&headers, &uri));
    let mut res = Html(login_html(ui, &token, &next, None)).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, LOGIN_COOKIE, &token, 3600),
    );
    res
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    axum::Form(form): FormFields,
) -> Response {
    let ui = anon_ui(lang_from(&headers, &uri));
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let next = local_path(Some(field("next")));
    let again = |status: StatusCode, msg: &str| {
        let token = new_token();
        let mut res = (status, Html(login_html(ui, &token, &next, Some(msg)))).into_response();
        res.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(&state, LOGIN_COOKIE, &token, 3600),
        );
        res
    };
    match cookie(&headers, LOGIN_COOKIE) {
        Some(c) if same(c, field("login_csrf")) => {}
        _ => {
            return again(
                StatusCode::FORBIDDEN,
                ui.t(
                    "The login form expired. Please try again.",
                    "登录表单已过期，请重试。",
                ),
            );
        }
    }
    // Counted as a failure until the password proves right.
    if let Err(wait) = state.limiter.logins.attempt(field("email")) {
        let mut res = again(
            StatusCode::TOO_MANY_REQUESTS,
            ui.t(
                "Too many failed logins for this account. Wait a few minutes, then try again.",
                "该账号登录失败次数过多，请稍等几分钟再试。",
            ),
        );
        let secs = wait.as_secs().max(1);
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return res;
    }
    let found = match state
        .storage
        .dispatcher_by_email(field("email").trim())
        .await
    {
        Ok(f) => f,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let hash = found
        .as_ref()
        .map(|d| d.password_hash.clone())
        .unwrap_or_else(|| decoy_hash().to_string());
    let password = field("password").to_string();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let Some(d) = found.filter(|_| ok) else {
        state.limiter.logins.failed(field("email"));
        return again(
            StatusCode::UNAUTHORIZED,
            ui.t("Wrong email or password.", "邮箱或密码错误。"),
        );
    };
    state.limiter.logins.succeeded(field("email"));
    let token = new_token();
    let ttl = Duration::hours(state.config.session_ttl_hours);
    if let Err(e) = state
        .storage
        .create_session(
            &token_hash(&token),
            d.id,
            state.config.clock.now() + ttl,
            state.config.clock.now(),
        )
        .await
    {
        return ApiError::from(e).into_response();
    }
    let mut res = Redirect::to(&next).into_response();
    let h = res.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(&state, SESSION_COOKIE, &token, ttl.num_seconds()),
    );
    h.append(header::SET_COOKIE, set_cookie(&state, LOGIN_COOKIE, "", 0));
    res
}

async fn logout(
    State(state): State<AppState>,
    c: Console,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> PageResult {
    c.check_csrf(&form)?;
    state.storage.delete_session(&c.auth.token_hash).await?;
    let mut res = Redirect::to("/console/login").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, SESSION_COOKIE, "", 0),
    );
    Ok(res)
}

#[derive(Debug, Deserialize)]
struct LangQuery {
    to: Option<String>,
    back: Option<String>,
}

/// Remember the language in a cookie (a year) and go back where the switch was clicked.
async fn set_lang(State(state): State<AppState>, Query(q): Query<LangQuery>) -> Response {
    let lang = q.to.as_deref().and_then(Lang::parse).unwrap_or_default();
    let value = match lang {
        Lang::En => "en",
        Lang::ZhCn => "zh-CN",
    };
    let mut res = Redirect::to(&local_path(q.back.as_deref())).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, LANG_COOKIE, value, 365 * 24 * 3600),
    );
    res
}

// ---------------------------------------------------------------- static files, photos

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn css() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("static/console.css"),
    )
}

async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("static/console.js"),
    )
}

/// The job's evidence report (PDF), in the console's language.
async fn evidence_report(
    State(state): State<AppState>,
    c: Console,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> PageResult {
    evidence(&state, &c, &id, crate::evidence::Format::Report).await
}

/// The job's evidence bundle (zip), for `fieldtech verify`.
async fn evidence_bundle(
    State(state): State<AppState>,
    c: Console,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> PageResult {
    evidence(&state, &c, &id, crate::evidence::Format::Bundle).await
}

async fn evidence(
    state: &AppState,
    c: &Console,
    id: &str,
    format: crate::evidence::Format,
) -> PageResult {
    let Ok(id) = id.parse::<Uuid>() else {
        return Err(not_found(c));
    };
    crate::evidence::download(state, &c.org, id, format, c.lang)
        .await?
        .ok_or_else(|| not_found(c))
}

/// Photo bytes for `<img>` tags, which cannot send a bearer header: the same bytes as
/// `GET /v1/photos/{id}`, authorised by the session cookie.
///
/// Unlike the API, the browser must revalidate every time (`no-cache` + ETag → 304): a cached
/// photo would otherwise still show after logout, to whoever logs in next on that browser.
async fn photo(
    State(state): State<AppState>,
    c: Console,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> PageResult {
    let Ok(id) = id.parse::<Uuid>() else {
        return Err(not_found(&c));
    };
    let Some(p) = state.storage.photo(c.org.id, id).await? else {
        return Err(not_found(&c));
    };
    let etag = format!("\"{}\"", p.sha256);
    let cache = HeaderValue::from_static("private, no-cache");
    if p.blob_path.is_some()
        && headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        let mut res = StatusCode::NOT_MODIFIED.into_response();
        res.headers_mut().insert(header::CACHE_CONTROL, cache);
        if let Ok(v) = HeaderValue::from_str(&etag) {
            res.headers_mut().insert(header::ETAG, v);
        }
        return Ok(res);
    }
    let mut res = photo_response(&state, c.org.id, id).await?;
    res.headers_mut().insert(header::CACHE_CONTROL, cache);
    Ok(res)
}

/// The form fields of a POST, as strings (forms carry nothing else).
pub type FormFields = axum::Form<HashMap<String, String>>;

pub(crate) fn csrf_hidden(c: &Console) -> String {
    csrf_field(&c.csrf)
}
