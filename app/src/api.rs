//! The portal's server functions, under `/sfn/`. Each is a shim over `kiln_auth::Accounts`.
//! With a script they answer JSON; posted by a plain form they answer with a redirect.

use crate::error::PortalError;
use kiln_core::{
    ApiTokenInfo, AppDetail, AppSpec, AppSummary, CreatedToken, Invite, Members, OutboxEntry,
    SessionInfo, UserInfo,
};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::server::*;

/// Answers `e` with its own HTTP status (not 500) when a script called, then returns it. A plain
/// form post keeps the redirect back to the form, which carries the error in its URL.
#[cfg(feature = "ssr")]
fn fail<T>(e: impl Into<PortalError>) -> Result<T, PortalError> {
    let e = e.into();
    if !is_plain_form_post()
        && let Some(res) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(code) = http::StatusCode::from_u16(e.0.status())
    {
        res.set_status(code);
    }
    Err(e)
}

/// Name of the short-lived cookie that carries a new API token to the settings page after a
/// plain form post (the page shows it once, then it is cleared).
#[cfg(feature = "ssr")]
const NEW_TOKEN_COOKIE: &str = "kiln_new_token";

/// The signed-in user, or `None`.
#[server(prefix = "/sfn", endpoint = "me")]
pub async fn current_user() -> Result<Option<UserInfo>, PortalError> {
    let Some(id) = identity() else {
        return Ok(None);
    };
    match accounts()?.user(id.user_id).await {
        Ok(u) => Ok(Some(u)),
        Err(kiln_auth::AuthError::Unauthenticated) => Ok(None),
        Err(e) => fail(e),
    }
}

#[server(prefix = "/sfn", endpoint = "signup")]
pub async fn signup(email: String, password: String) -> Result<(), PortalError> {
    let accounts = accounts()?;
    match accounts.signup(&email, &password, &client()).await {
        Ok(done) => {
            set_cookies(accounts.config().cookies().set_session(&done.session));
            leptos_axum::redirect("/check-email");
            Ok(())
        }
        Err(e) => fail(e),
    }
}

#[server(prefix = "/sfn", endpoint = "login")]
pub async fn login(
    email: String,
    password: String,
    next: Option<String>,
) -> Result<(), PortalError> {
    let accounts = accounts()?;
    match accounts.login(&email, &password, &client()).await {
        Ok((_, session)) => {
            set_cookies(accounts.config().cookies().set_session(&session));
            let to = kiln_core::local_redirect(next.as_deref(), "/apps");
            leptos_axum::redirect(to);
            Ok(())
        }
        Err(e) => fail(e),
    }
}

#[server(prefix = "/sfn", endpoint = "resend_verification")]
pub async fn resend_verification() -> Result<(), PortalError> {
    let id = match require_user() {
        Ok(id) => id,
        Err(e) => return fail(e),
    };
    match accounts()?.resend_verification(id.user_id, &client()).await {
        Ok(()) => {
            leptos_axum::redirect("/apps?resent=1");
            Ok(())
        }
        Err(e) => fail(e),
    }
}

#[server(prefix = "/sfn", endpoint = "tokens")]
pub async fn list_tokens() -> Result<Vec<ApiTokenInfo>, PortalError> {
    let id = match require_user() {
        Ok(id) => id,
        Err(e) => return fail(e),
    };
    accounts()?.list_api_tokens(id.user_id).await.or_else(fail)
}

#[server(prefix = "/sfn", endpoint = "create_token")]
pub async fn create_token(name: String) -> Result<Option<CreatedToken>, PortalError> {
    let id = match require_user() {
        Ok(id) => id,
        Err(e) => return fail(e),
    };
    let created = match accounts()?.create_api_token(id.user_id, &name).await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if is_plain_form_post() {
        // No script to show the answer: carry the token to the settings page in a cookie that
        // only that page receives, for five minutes at most, shown once.
        set_cookies(vec![format!(
            "{NEW_TOKEN_COOKIE}={}; Path=/settings; Max-Age=300; HttpOnly; SameSite=Strict{}",
            created.token,
            if accounts()?.config().cookies().secure { "; Secure" } else { "" }
        )]);
        leptos_axum::redirect("/settings");
        return Ok(None);
    }
    Ok(Some(created))
}

/// The token created by a plain form post, once.
#[server(prefix = "/sfn", endpoint = "new_token")]
pub async fn take_new_token() -> Result<Option<String>, PortalError> {
    let token = cookie(NEW_TOKEN_COOKIE);
    if token.is_some() {
        set_cookies(vec![format!(
            "{NEW_TOKEN_COOKIE}=; Path=/settings; Max-Age=0; HttpOnly; SameSite=Strict"
        )]);
    }
    Ok(token)
}

#[server(prefix = "/sfn", endpoint = "revoke_token")]
pub async fn revoke_token(id: i64) -> Result<(), PortalError> {
    let who = match require_user() {
        Ok(who) => who,
        Err(e) => return fail(e),
    };
    match accounts()?.revoke_api_token(who.user_id, id).await {
        Ok(()) => {
            if is_plain_form_post() {
                leptos_axum::redirect("/settings");
            }
            Ok(())
        }
        Err(e) => fail(e),
    }
}

/// The signed-in caller or a 401 answer.
#[cfg(feature = "ssr")]
fn caller() -> Result<kiln_auth::Identity, PortalError> {
    require_user().or_else(fail)
}

#[server(prefix = "/sfn", endpoint = "forgot_password")]
pub async fn forgot_password(email: String) -> Result<(), PortalError> {
    match accounts()?.forgot_password(&email, &client()).await {
        Ok(()) => {
            leptos_axum::redirect("/forgot-password?sent=1");
            Ok(())
        }
        Err(e) => fail(e),
    }
}

#[server(prefix = "/sfn", endpoint = "reset_password")]
pub async fn reset_password(token: String, password: String) -> Result<(), PortalError> {
    match accounts()?.reset_password(&token, &password, &client()).await {
        Ok(_) => {
            // Every session ended, this browser's too.
            set_cookies(accounts()?.config().cookies().clear_session());
            leptos_axum::redirect("/login?reset=1");
            Ok(())
        }
        Err(e) => fail(e),
    }
}

#[server(prefix = "/sfn", endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    password: String,
) -> Result<(), PortalError> {
    let id = caller()?;
    match accounts()?.change_password(id.user_id, id.session_id, &current_password, &password).await
    {
        Ok(()) => {
            leptos_axum::redirect("/settings?changed=password");
            Ok(())
        }
        Err(e) => fail(e),
    }
}

#[server(prefix = "/sfn", endpoint = "change_email")]
pub async fn change_email(email: String) -> Result<(), PortalError> {
    let id = caller()?;
    match accounts()?.request_email_change(&id, &email, &client()).await {
        Ok(()) => {
            leptos_axum::redirect("/settings?changed=email");
            Ok(())
        }
        Err(e) => fail(e),
    }
}

#[server(prefix = "/sfn", endpoint = "undo_email_change")]
pub async fn undo_email_change(token: String) -> Result<(), PortalError> {
    match accounts()?.undo_email_change(&token).await {
        Ok(_) => {
            set_cookies(accounts()?.config().cookies().clear_session());
            leptos_axum::redirect("/email-changed?status=undone");
            Ok(())
        }
        Err(e) => fail(e),
    }
}

#[server(prefix = "/sfn", endpoint = "sessions")]
pub async fn list_sessions() -> Result<Vec<SessionInfo>, PortalError> {
    let id = caller()?;
    accounts()?.list_sessions(id.user_id, id.session_id).await.or_else(fail)
}

#[server(prefix = "/sfn", endpoint = "revoke_session")]
pub async fn revoke_session(id: i64) -> Result<(), PortalError> {
    let who = caller()?;
    match accounts()?.revoke_session(who.user_id, id).await {
        Ok(()) => {
            if who.session_id == Some(id) {
                set_cookies(accounts()?.config().cookies().clear_session());
                leptos_axum::redirect("/login");
            } else if is_plain_form_post() {
                leptos_axum::redirect("/settings");
            }
            Ok(())
        }
        Err(e) => fail(e),
    }
}

#[server(prefix = "/sfn", endpoint = "logout_everywhere")]
pub async fn logout_everywhere() -> Result<(), PortalError> {
    let who = caller()?;
    match accounts()?.revoke_all_sessions(who.user_id).await {
        Ok(_) => {
            set_cookies(accounts()?.config().cookies().clear_session());
            leptos_axum::redirect("/login");
            Ok(())
        }
        Err(e) => fail(e),
    }
}

#[server(prefix = "/sfn", endpoint = "delete_account")]
pub async fn delete_account(password: String) -> Result<(), PortalError> {
    let who = caller()?;
    match accounts()?.delete_account(who.user_id, &password).await {
        Ok(()) => {
            set_cookies(accounts()?.config().cookies().clear_session());
            leptos_axum::redirect("/?deleted=1");
            Ok(())
        }
        Err(e) => fail(e),
    }
}

/// The outbox for operators; `None` for everyone else.
#[server(prefix = "/sfn", endpoint = "outbox")]
pub async fn outbox() -> Result<Option<Vec<OutboxEntry>>, PortalError> {
    let who = caller()?;
    match accounts()?.outbox(who.user_id, 50).await {
        Ok(list) => Ok(Some(list)),
        Err(kiln_auth::AuthError::Forbidden(_)) => Ok(None),
        Err(e) => fail(e),
    }
}

/// The caller's apps, newest first.
#[server(prefix = "/sfn", endpoint = "apps")]
pub async fn my_apps() -> Result<Vec<AppSummary>, PortalError> {
    let who = caller()?;
    let Some(pipeline) = use_context::<kiln_pipeline::Pipeline>() else {
        return Ok(Vec::new());
    };
    match pipeline.list_apps(who.user_id).await {
        Ok(list) => Ok(list),
        Err(e) => {
            leptos::logging::error!("listing apps failed: {e}");
            fail(kiln_core::ApiError::new(
                kiln_core::ErrorCode::Internal,
                "Your apps could not be loaded.",
            ))
        }
    }
}

#[cfg(feature = "ssr")]
fn pipeline() -> Result<kiln_pipeline::Pipeline, PortalError> {
    use_context::<kiln_pipeline::Pipeline>().ok_or_else(|| {
        PortalError(kiln_core::ApiError::new(
            kiln_core::ErrorCode::Internal,
            "The generator is not available.",
        ))
    })
}

/// The plan of a description (step 2 of the wizard): the model's when one is configured, else
/// the offline planner's.
#[server(prefix = "/sfn", endpoint = "plan")]
pub async fn plan_app(description: String) -> Result<PlanAnswer, PortalError> {
    let who = caller()?;
    let pipeline = pipeline()?;
    if pipeline.uses_model()
        && let Err(e) = accounts()?.limit_model_plan(who.user_id, &client())
    {
        return fail(e);
    }
    match pipeline.plan(&description).await {
        Ok(p) => Ok(PlanAnswer { spec: p.spec, note: p.note }),
        Err(e) => fail(e),
    }
}

/// What the planner made of a description, and where the plan came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PlanAnswer {
    pub spec: AppSpec,
    pub note: String,
}

/// Creates the app and queues its generation with the reviewed plan (sent as JSON).
#[server(prefix = "/sfn", endpoint = "create_app")]
pub async fn create_app(
    description: String,
    spec: String,
) -> Result<kiln_core::AppCreated, PortalError> {
    let who = caller()?;
    if let Err(e) = accounts()?.require_verified(who.user_id).await {
        return fail(e);
    }
    let spec: AppSpec = match serde_json::from_str(&spec) {
        Ok(s) => s,
        Err(e) => {
            return fail(kiln_core::ApiError::new(
                kiln_core::ErrorCode::BadRequest,
                format!("The plan could not be read: {e}"),
            ));
        }
    };
    let name = spec.name.clone();
    match pipeline()?.create_app(who.user_id, &description, Some(&name), Some(spec)).await {
        Ok(c) => Ok(c),
        Err(e) => fail(e),
    }
}

/// Generates an app again: from `description` when given (stored as a new description
/// version), else from its current one; or, with `confirm_data_loss`, deploys the version that
/// waits for that confirmation.
#[server(prefix = "/sfn", endpoint = "generate_app")]
pub async fn generate_app(
    app_id: i64,
    description: Option<String>,
    confirm_data_loss: bool,
) -> Result<kiln_core::AppCreated, PortalError> {
    let who = caller()?;
    if let Err(e) = accounts()?.require_verified(who.user_id).await {
        return fail(e);
    }
    let description = description.filter(|d| !d.trim().is_empty());
    match pipeline()?
        .generate(who.user_id, app_id, description.as_deref(), None, confirm_data_loss)
        .await
    {
        Ok(c) => Ok(c),
        Err(e) => fail(e),
    }
}

/// Deletes the app once its slug has been typed to confirm.
#[server(prefix = "/sfn", endpoint = "delete_app")]
pub async fn delete_app(app_id: i64, confirm: String) -> Result<(), PortalError> {
    let who = caller()?;
    let pipeline = pipeline()?;
    let app = match pipeline.owned_app(who.user_id, app_id).await {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    if confirm.trim() != app.slug {
        return fail(kiln_core::ApiError::invalid(
            "confirm",
            format!("Type {} to confirm.", app.slug),
        ));
    }
    match pipeline.delete_app(who.user_id, app_id).await {
        Ok(()) => {
            leptos_axum::redirect("/apps");
            Ok(())
        }
        Err(e) => fail(e),
    }
}

/// Rolls the app back (or forward) to a version that has been live.
#[server(prefix = "/sfn", endpoint = "rollback_app")]
pub async fn rollback_app(app_id: i64, version: i64) -> Result<kiln_core::AppCreated, PortalError> {
    let who = caller()?;
    if let Err(e) = accounts()?.require_verified(who.user_id).await {
        return fail(e);
    }
    match pipeline()?.rollback(who.user_id, app_id, version).await {
        Ok(c) => Ok(c),
        Err(e) => fail(e),
    }
}

/// Stores a new description version without generating.
#[server(prefix = "/sfn", endpoint = "save_description")]
pub async fn save_description(app_id: i64, description: String) -> Result<i64, PortalError> {
    let who = caller()?;
    match pipeline()?.set_description(who.user_id, app_id, &description).await {
        Ok(n) => Ok(n),
        Err(e) => fail(e),
    }
}

/// The app page: the app, its versions and its newest job.
#[server(prefix = "/sfn", endpoint = "app")]
pub async fn get_app(app_id: i64) -> Result<AppDetail, PortalError> {
    let who = caller()?;
    match pipeline()?.app_detail(who.user_id, app_id).await {
        Ok(a) => Ok(a),
        Err(e) => fail(e),
    }
}

/// The people of an app (and, for its owner, the open invitations).
#[server(prefix = "/sfn", endpoint = "app_members")]
pub async fn app_members(app_id: i64) -> Result<Members, PortalError> {
    let who = caller()?;
    match pipeline()?.members(who.user_id, app_id).await {
        Ok(m) => Ok(m),
        Err(e) => fail(e),
    }
}

/// The owner invites someone by email as editor or viewer (an email with a link).
#[server(prefix = "/sfn", endpoint = "invite_member")]
pub async fn invite_member(
    app_id: i64,
    email: String,
    role: String,
) -> Result<Invite, PortalError> {
    let who = caller()?;
    match pipeline()?.invite(who.user_id, app_id, &email, &role).await {
        Ok(i) => Ok(i),
        Err(e) => fail(e),
    }
}

/// The owner withdraws an invitation not yet accepted.
#[server(prefix = "/sfn", endpoint = "revoke_invite")]
pub async fn revoke_invite(app_id: i64, invite_id: i64) -> Result<(), PortalError> {
    let who = caller()?;
    match pipeline()?.revoke_invite(who.user_id, app_id, invite_id).await {
        Ok(()) => Ok(()),
        Err(e) => fail(e),
    }
}

/// The owner changes a member's role (their live connections reconnect with it).
#[server(prefix = "/sfn", endpoint = "set_member_role")]
pub async fn set_member_role(app_id: i64, user_id: i64, role: String) -> Result<(), PortalError> {
    let who = caller()?;
    match pipeline()?.set_member_role(who.user_id, app_id, user_id, &role).await {
        Ok(()) => Ok(()),
        Err(e) => fail(e),
    }
}

/// The owner removes a member (their live connections close).
#[server(prefix = "/sfn", endpoint = "remove_member")]
pub async fn remove_member(app_id: i64, user_id: i64) -> Result<(), PortalError> {
    let who = caller()?;
    match pipeline()?.remove_member(who.user_id, app_id, user_id).await {
        Ok(()) => Ok(()),
        Err(e) => fail(e),
    }
}

/// Asks the app's running job to stop at its next stage boundary.
#[server(prefix = "/sfn", endpoint = "cancel_job")]
pub async fn cancel_job(job_id: i64) -> Result<(), PortalError> {
    let who = caller()?;
    match pipeline()?.cancel(who.user_id, job_id).await {
        Ok(()) => Ok(()),
        Err(e) => fail(e),
    }
}
