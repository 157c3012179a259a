//! Collaboration on an app's description: roles (the owner, editors, viewers), invitations by
//! email, and the shared document kept as a snapshot plus the updates written after it.

use crate::db::{on_db, on_tx};
use crate::{Db, Millis, StoreError, Tx};

/// What someone may do with an app's shared description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Editor,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Owner => "owner",
        }
    }

    /// A role that can be given to someone (the owner is the app's creator).
    pub fn parse_member(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            _ => None,
        }
    }

    pub fn can_edit(self) -> bool {
        self >= Role::Editor
    }
}

/// The role `user_id` has on `app_id`, if any: the owner's, or the one given to them.
pub async fn role_of(db: &Db, app_id: i64, user_id: i64) -> Result<Option<Role>, StoreError> {
    let q = "SELECT CASE WHEN a.owner_id = $2 THEN 'owner' ELSE m.role END FROM apps a \
             LEFT JOIN app_members m ON m.app_id = a.id AND m.user_id = $2 WHERE a.id = $1";
    let role: Option<Option<String>> = on_db!(db, c => sqlx::query_scalar(q).bind(app_id)
        .bind(user_id).fetch_optional(c).await)?;
    Ok(match role.flatten().as_deref() {
        Some("owner") => Some(Role::Owner),
        Some(r) => Role::parse_member(r),
        None => None,
    })
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub user_id: i64,
    pub email: String,
    pub role: String,
    pub created_at: Millis,
}

/// The people with a role on an app, the owner first.
pub async fn members(db: &Db, app_id: i64) -> Result<Vec<MemberRow>, StoreError> {
    let q = "SELECT u.id AS user_id, u.email, 'owner' AS role, a.created_at \
             FROM apps a JOIN users u ON u.id = a.owner_id WHERE a.id = $1 \
             UNION ALL SELECT u.id, u.email, m.role, m.created_at \
             FROM app_members m JOIN users u ON u.id = m.user_id WHERE m.app_id = $1 \
             ORDER BY 4";
    Ok(on_db!(db, c => sqlx::query_as(q).bind(app_id).fetch_all(c).await)?)
}

/// The apps `user_id` is a member of (not those they own), newest first, with their role.
pub async fn memberships(db: &Db, user_id: i64) -> Result<Vec<(i64, Role)>, StoreError> {
    let q = "SELECT app_id, role FROM app_members WHERE user_id = $1 ORDER BY app_id DESC";
    let rows: Vec<(i64, String)> =
        on_db!(db, c => sqlx::query_as(q).bind(user_id).fetch_all(c).await)?;
    Ok(rows.into_iter().filter_map(|(a, r)| Some((a, Role::parse_member(&r)?))).collect())
}

/// Gives `user_id` a role on the app (or changes it).
pub async fn set_role(
    tx: &mut Tx,
    app_id: i64,
    user_id: i64,
    role: Role,
    now: Millis,
) -> Result<(), StoreError> {
    let q = "INSERT INTO app_members (app_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (app_id, user_id) DO UPDATE SET role = excluded.role";
    on_tx!(tx, c => sqlx::query(q).bind(app_id).bind(user_id).bind(role.as_str()).bind(now)
        .execute(c).await.map(|_| ()))?;
    Ok(())
}

/// Takes a member's role away; false when they had none.
pub async fn remove_member(db: &Db, app_id: i64, user_id: i64) -> Result<bool, StoreError> {
    let q = "DELETE FROM app_members WHERE app_id = $1 AND user_id = $2";
    let n = on_db!(db, c => sqlx::query(q).bind(app_id).bind(user_id).execute(c).await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InviteRow {
    pub id: i64,
    pub app_id: i64,
    pub email: String,
    pub role: String,
    pub invited_by: i64,
    pub expires_at: Millis,
    pub accepted_at: Option<Millis>,
    pub created_at: Millis,
}

const INVITE_COLUMNS: &str =
    "id, app_id, email, role, invited_by, expires_at, accepted_at, created_at";

#[allow(clippy::too_many_arguments)]
pub async fn insert_invite(
    tx: &mut Tx,
    app_id: i64,
    email: &str,
    role: Role,
    token_hash: &str,
    invited_by: i64,
    expires_at: Millis,
    now: Millis,
) -> Result<i64, StoreError> {
    let q = "INSERT INTO app_invites (app_id, email, role, token_hash, invited_by, expires_at, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
    Ok(on_tx!(tx, c => sqlx::query_scalar(q).bind(app_id).bind(email).bind(role.as_str())
        .bind(token_hash).bind(invited_by).bind(expires_at).bind(now).fetch_one(c).await)?)
}

/// Invitations of an app not yet accepted, newest first.
pub async fn open_invites(db: &Db, app_id: i64) -> Result<Vec<InviteRow>, StoreError> {
    let q = format!(
        "SELECT {INVITE_COLUMNS} FROM app_invites WHERE app_id = $1 AND accepted_at IS NULL \
         ORDER BY id DESC"
    );
    Ok(on_db!(db, c => sqlx::query_as(sqlx::AssertSqlSafe(q)).bind(app_id).fetch_all(c).await)?)
}

pub async fn invite_by_token(db: &Db, token_hash: &str) -> Result<Option<InviteRow>, StoreError> {
    let q = format!("SELECT {INVITE_COLUMNS} FROM app_invites WHERE token_hash = $1");
    Ok(on_db!(db, c => sqlx::query_as(sqlx::AssertSqlSafe(q)).bind(token_hash)
        .fetch_optional(c).await)?)
}

/// Marks an invitation accepted by `user_id`; false when it already was (or is gone).
pub async fn accept_invite(
    tx: &mut Tx,
    id: i64,
    user_id: i64,
    now: Millis,
) -> Result<bool, StoreError> {
    let q = "UPDATE app_invites SET accepted_at = $1, accepted_by = $2 \
             WHERE id = $3 AND accepted_at IS NULL";
    let n = on_tx!(tx, c => sqlx::query(q).bind(now).bind(user_id).bind(id).execute(c).await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

pub async fn revoke_invite(db: &Db, app_id: i64, id: i64) -> Result<bool, StoreError> {
    let q = "DELETE FROM app_invites WHERE app_id = $1 AND id = $2 AND accepted_at IS NULL";
    let n = on_db!(db, c => sqlx::query(q).bind(app_id).bind(id).execute(c).await
        .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// A document as stored: its snapshot (state, and the last update it includes) and the
/// updates written after it, in order.
#[derive(Debug, Default)]
pub struct StoredDoc {
    pub snapshot: Option<(Vec<u8>, i64)>,
    pub updates: Vec<(i64, Vec<u8>)>,
}

pub async fn load_doc(db: &Db, app_id: i64) -> Result<StoredDoc, StoreError> {
    // One snapshot, then the updates after it: read in one transaction so a compaction in
    // between cannot drop updates the snapshot read does not include.
    let mut tx = db.begin().await?;
    let snap: Option<(Vec<u8>, i64)> = on_tx!(&mut tx, c => sqlx::query_as(
        "SELECT state, upto FROM doc_snapshots WHERE app_id = $1").bind(app_id)
        .fetch_optional(&mut *c).await)?;
    let after = snap.as_ref().map_or(0, |s| s.1);
    let updates: Vec<(i64, Vec<u8>)> = on_tx!(&mut tx, c => sqlx::query_as(
        "SELECT id, data FROM doc_updates WHERE app_id = $1 AND id > $2 ORDER BY id")
        .bind(app_id).bind(after).fetch_all(&mut *c).await)?;
    tx.commit().await?;
    Ok(StoredDoc { snapshot: snap, updates })
}

/// The updates of an app written after `after` (another replica's, announced by id).
pub async fn updates_after(
    db: &Db,
    app_id: i64,
    after: i64,
) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
    let q = "SELECT id, data FROM doc_updates WHERE app_id = $1 AND id > $2 ORDER BY id";
    Ok(on_db!(db, c => sqlx::query_as(q).bind(app_id).bind(after).fetch_all(c).await)?)
}

/// Writes updates in one transaction; returns their ids, in order.
pub async fn append_updates(
    db: &Db,
    app_id: i64,
    updates: &[Vec<u8>],
    now: Millis,
) -> Result<Vec<i64>, StoreError> {
    let mut tx = db.begin_write().await?;
    if let Tx::Postgres(t) = &mut tx {
        // One writer per document at a time: ids then become visible in the order they were
        // given, so a reader that saw id n has seen every row of this document before it.
        sqlx::query("SELECT 1 FROM doc_snapshots WHERE app_id = $1 FOR UPDATE")
            .bind(app_id)
            .execute(&mut **t)
            .await?;
    }
    let mut ids = Vec::with_capacity(updates.len());
    for u in updates {
        let q = "INSERT INTO doc_updates (app_id, data, created_at) VALUES ($1, $2, $3) \
                 RETURNING id";
        let id: i64 = on_tx!(&mut tx, c => sqlx::query_scalar(q).bind(app_id).bind(u.as_slice())
            .bind(now).fetch_one(&mut *c).await)?;
        ids.push(id);
    }
    tx.commit().await?;
    Ok(ids)
}

/// The first state of a document (from the app's description); false when another process
/// wrote one first (then load that).
pub async fn seed_doc(db: &Db, app_id: i64, state: &[u8], now: Millis) -> Result<bool, StoreError> {
    let q = "INSERT INTO doc_snapshots (app_id, state, upto, updated_at) VALUES ($1, $2, 0, $3) \
             ON CONFLICT (app_id) DO NOTHING";
    let n = on_db!(db, c => sqlx::query(q).bind(app_id).bind(state).bind(now).execute(c).await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Compaction: `state` includes every update up to `upto`; it replaces the snapshot and those
/// updates, in one transaction (unless a newer snapshot is already there).
pub async fn compact(
    db: &Db,
    app_id: i64,
    state: &[u8],
    upto: i64,
    now: Millis,
) -> Result<bool, StoreError> {
    let mut tx = db.begin_write().await?;
    let q = "UPDATE doc_snapshots SET state = $1, upto = $2, updated_at = $3 \
             WHERE app_id = $4 AND upto < $2";
    let n = on_tx!(&mut tx, c => sqlx::query(q).bind(state).bind(upto).bind(now).bind(app_id)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if n == 1 {
        on_tx!(&mut tx, c => sqlx::query("DELETE FROM doc_updates WHERE app_id = $1 AND id <= $2")
            .bind(app_id).bind(upto).execute(&mut *c).await.map(|_| ()))?;
    }
    tx.commit().await?;
    Ok(n == 1)
}
