//! Who may take part in an app's description: the owner invites people by email as editors or
//! viewers, changes their roles and removes them (which closes their live connections).

use crate::{Pipeline, PipelineError};
use kiln_core::{ApiError, ErrorCode};
use kiln_store::collab::{self, Role};
use kiln_store::{apps, users};

/// How long an invitation can be accepted.
pub const INVITE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

pub use kiln_core::{Invite, Member, Members};

fn refused(code: ErrorCode, message: impl Into<String>) -> PipelineError {
    PipelineError::Refused(ApiError::new(code, message))
}

fn role_arg(role: &str) -> Result<Role, PipelineError> {
    Role::parse_member(role).ok_or_else(|| {
        PipelineError::Refused(ApiError::invalid("role", "The role must be editor or viewer."))
    })
}

impl Pipeline {
    /// The role `user_id` has on the app; `None` for anyone else (the app does not exist for
    /// them).
    pub async fn role_of(&self, user_id: i64, app_id: i64) -> Result<Option<Role>, PipelineError> {
        Ok(collab::role_of(&self.db, app_id, user_id).await?)
    }

    /// The people of an app, for anyone with a role on it; invitations for the owner.
    pub async fn members(&self, user_id: i64, app_id: i64) -> Result<Members, PipelineError> {
        let role = self
            .role_of(user_id, app_id)
            .await?
            .ok_or_else(|| refused(ErrorCode::NotFound, "No such app."))?;
        let members = collab::members(&self.db, app_id)
            .await?
            .into_iter()
            .map(|m| Member { user_id: m.user_id, email: m.email, role: m.role })
            .collect();
        let invites = if role == Role::Owner {
            let now = self.clock.now();
            collab::open_invites(&self.db, app_id)
                .await?
                .into_iter()
                .filter(|i| i.expires_at > now)
                .map(|i| Invite {
                    id: i.id,
                    email: i.email,
                    role: i.role,
                    expires_at: i.expires_at,
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Members { members, invites })
    }

    /// Invites `email` as editor or viewer: an email with a single-use link (valid 7 days).
    pub async fn invite(
        &self,
        owner_id: i64,
        app_id: i64,
        email: &str,
        role: &str,
    ) -> Result<Invite, PipelineError> {
        let app = self.owned_app(owner_id, app_id).await?;
        let role = role_arg(role)?;
        let email = kiln_core::Email::parse(email).map_err(PipelineError::Refused)?.to_string();
        let owner = users::by_id(&self.db, owner_id).await?;
        if owner.as_ref().is_some_and(|o| o.email.eq_ignore_ascii_case(&email)) {
            return Err(PipelineError::Refused(ApiError::invalid(
                "email",
                "That is you: the owner already has every right.",
            )));
        }
        let token = kiln_auth::random_token("inv_");
        let now = self.clock.now();
        let expires_at = now + INVITE_TTL_MS;
        let mut tx = self.db.begin_write().await?;
        let id = collab::insert_invite(
            &mut tx,
            app_id,
            &email,
            role,
            &kiln_auth::sha256_hex(&token),
            owner_id,
            expires_at,
            now,
        )
        .await?;
        if let Some(mail) = &self.mail {
            let ctx = serde_json::json!({
                "app": app.name,
                "inviter": owner.map(|o| o.email).unwrap_or_default(),
                "role": if role == Role::Editor { "an editor" } else { "a viewer" },
                "link": format!("{}/invites/{token}", mail.portal_url.trim_end_matches('/')),
                "expires": kiln_core::time::iso_time(expires_at),
            });
            mail.mailer
                .enqueue(&mut tx, &email, "app_invite", &ctx, now)
                .await
                .map_err(|e| refused(ErrorCode::Internal, format!("The invitation email: {e}")))?;
        }
        tx.commit().await?;
        Ok(Invite { id, email, role: role.as_str().to_owned(), expires_at })
    }

    /// Accepts an invitation for the signed-in `user_id` (whose address it was sent to).
    pub async fn accept_invite(
        &self,
        user_id: i64,
        token: &str,
    ) -> Result<(i64, Role), PipelineError> {
        let gone =
            || refused(ErrorCode::NotFound, "This invitation does not exist or was withdrawn.");
        let invite = collab::invite_by_token(&self.db, &kiln_auth::sha256_hex(token.trim()))
            .await?
            .ok_or_else(gone)?;
        if invite.accepted_at.is_some() {
            return Err(refused(ErrorCode::Conflict, "This invitation was already accepted."));
        }
        let now = self.clock.now();
        if invite.expires_at <= now {
            return Err(refused(
                ErrorCode::Conflict,
                "This invitation has expired; ask for a new one.",
            ));
        }
        let user = users::by_id(&self.db, user_id).await?.ok_or_else(gone)?;
        if !user.email.eq_ignore_ascii_case(&invite.email) {
            return Err(refused(
                ErrorCode::Forbidden,
                format!("This invitation is for {}; sign in with that address.", invite.email),
            ));
        }
        let role = Role::parse_member(&invite.role).unwrap_or(Role::Viewer);
        let app = apps::get(&self.db, invite.app_id).await?.ok_or_else(gone)?;
        let mut tx = self.db.begin_write().await?;
        if !collab::accept_invite(&mut tx, invite.id, user_id, now).await? {
            return Err(refused(ErrorCode::Conflict, "This invitation was already accepted."));
        }
        // The owner keeps their own role.
        if app.owner_id != user_id {
            collab::set_role(&mut tx, invite.app_id, user_id, role, now).await?;
        }
        tx.commit().await?;
        Ok((invite.app_id, role))
    }

    /// Changes a member's role; their open connections close (they reconnect with the new one).
    pub async fn set_member_role(
        &self,
        owner_id: i64,
        app_id: i64,
        user_id: i64,
        role: &str,
    ) -> Result<(), PipelineError> {
        self.owned_app(owner_id, app_id).await?;
        let role = role_arg(role)?;
        match collab::role_of(&self.db, app_id, user_id).await? {
            Some(Role::Owner) => {
                return Err(refused(ErrorCode::Conflict, "The owner's role cannot change."));
            }
            None => {
                return Err(refused(ErrorCode::NotFound, "That person has no role on this app."));
            }
            Some(_) => {}
        }
        let mut tx = self.db.begin_write().await?;
        collab::set_role(&mut tx, app_id, user_id, role, self.clock.now()).await?;
        tx.commit().await?;
        if let Some(hub) = &self.collab {
            hub.disconnect_user(app_id, user_id, "your role on this app changed; reconnect").await;
        }
        Ok(())
    }

    /// Removes a member; their open connections close at once.
    pub async fn remove_member(
        &self,
        owner_id: i64,
        app_id: i64,
        user_id: i64,
    ) -> Result<(), PipelineError> {
        self.owned_app(owner_id, app_id).await?;
        if !collab::remove_member(&self.db, app_id, user_id).await? {
            return Err(refused(ErrorCode::NotFound, "That person has no role on this app."));
        }
        if let Some(hub) = &self.collab {
            hub.disconnect_user(app_id, user_id, "your access to this app was removed").await;
        }
        Ok(())
    }

    /// Withdraws an invitation not yet accepted.
    pub async fn revoke_invite(
        &self,
        owner_id: i64,
        app_id: i64,
        invite_id: i64,
    ) -> Result<(), PipelineError> {
        self.owned_app(owner_id, app_id).await?;
        if !collab::revoke_invite(&self.db, app_id, invite_id).await? {
            return Err(refused(ErrorCode::NotFound, "No such open invitation."));
        }
        Ok(())
    }
}
