//! Moving a tenant's data to another isolation level while it keeps
//! writing. The steps:
//! 1. provision the target store;
//! 2. point writers at both stores (a new epoch): from here every new event
//!    lands in the target too;
//! 3. copy what the source held, idempotently;
//! 4. verify by counts, switch the placement (another epoch), and erase the
//!    source. Writers fenced on an old epoch write again to the new place.
//!
//! An interrupted move leaves the tenant writing to both stores; running
//! the move again resumes it (same level) or abandons it (another level).

use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::AnyConnection;

use sqlx::FromRow;

use super::claims::MoveClaim;
use super::{Location, Placement, TenantStore, TenantStores};
use crate::domain::request_log::LogEntry;
use crate::domain::tenant::{IsolationLevel, MoveReport};
use crate::domain::time::now_millis;
use crate::server::db::DbError;

const PAGE: i64 = 1000;
const VERIFY_ATTEMPTS: usize = 20;

/// The control-plane change that goes with the switch, in the same
/// transaction (the tenants service records the tenant's new level).
pub type OnSwitch<'a> = Box<
    dyn for<'t> FnOnce(&'t mut AnyConnection) -> BoxFuture<'t, Result<(), DbError>> + Send + 'a,
>;

impl TenantStores {
    pub async fn move_tenant(
        &self,
        tenant_id: &str,
        to: IsolationLevel,
        on_switch: OnSwitch<'_>,
    ) -> Result<MoveReport, DbError> {
        let claim = self.claim_move(tenant_id).await?;
        let moved = self.run_move(&claim, to, on_switch).await;
        self.release_move(claim).await;
        moved
    }

    /// The move itself, while `claim` holds the store.
    async fn run_move(
        &self,
        claim: &MoveClaim,
        to: IsolationLevel,
        on_switch: OnSwitch<'_>,
    ) -> Result<MoveReport, DbError> {
        let tenant_id = claim.tenant_id.as_str();
        let mut p = self.placement(tenant_id).await?.ok_or(DbError::NoStore)?;
        if let Some(stale) = p.target.clone().filter(|t| t.level() != to) {
            self.abandon(claim, &p, &stale).await?;
            p = self.placement(tenant_id).await?.ok_or(DbError::NoStore)?;
        }
        if p.location.level() == to {
            return Err(DbError::Store(format!(
                "the data is already {}",
                to.as_str()
            )));
        }
        let (target, dual_epoch) = match p.target.clone() {
            Some(target) => (target, p.epoch),
            None => {
                self.refuse_while_erasing(tenant_id).await?;
                let target = self.provision(tenant_id, to).await?;
                match self.start_dual_writes(claim, &p, &target).await {
                    Ok(epoch) => (target, epoch),
                    Err(e) => {
                        let _ = self.erase(tenant_id, &target).await;
                        return Err(e);
                    }
                }
            }
        };
        let rows_copied = self.copy(claim, &p.location, &target, dual_epoch).await?;
        let (source_rows, target_rows) =
            self.verify(claim, &p.location, &target, dual_epoch).await?;
        self.switch(claim, &p, &target, dual_epoch, on_switch)
            .await?;
        let source_rows_erased = self.erase(tenant_id, &p.location).await?;
        Ok(MoveReport {
            from: p.location.level(),
            to,
            from_location: p.location.describe(self.backend()),
            to_location: target.describe(self.backend()),
            rows_copied,
            source_rows,
            target_rows,
            source_rows_erased,
        })
    }

    /// Returns the epoch at which writes go to both stores.
    async fn start_dual_writes(
        &self,
        claim: &MoveClaim,
        p: &Placement,
        target: &Location,
    ) -> Result<i64, DbError> {
        let changed = self.next_epoch(claim, p, Some(target)).await?;
        if changed {
            return Ok(p.epoch + 1);
        }
        self.refuse_while_erasing(&p.tenant_id).await?;
        Err(DbError::MoveRunning)
    }

    /// A move starts only while no erasure holds the store (`erasing`).
    async fn refuse_while_erasing(&self, tenant_id: &str) -> Result<(), DbError> {
        match self.erasing_until(tenant_id).await? {
            Some(until) => Err(DbError::ErasureRunning(until)),
            None => Ok(()),
        }
    }

    /// Copies what the source held when the copy began; the claim is
    /// renewed with every page, and a lost claim stops the copy.
    async fn copy(
        &self,
        claim: &MoveClaim,
        from: &Location,
        to: &Location,
        epoch: i64,
    ) -> Result<u64, DbError> {
        let tenant_id = claim.tenant_id.as_str();
        let source = self.at(tenant_id, from)?;
        let target = self.at(tenant_id, to)?;
        // Rows written after this point go to both stores already: copying
        // them too would chase the writers forever.
        let Some(until) = source.last_request_id().await? else {
            return Ok(0);
        };
        let mut after = String::new();
        let mut copied = 0u64;
        loop {
            let page = source.usage_page(&after, Some(&until), PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.request_id.clone();
            self.renew_move(claim).await?;
            target.insert_usage(&page, Some(epoch)).await?;
            copied += page.len() as u64;
        }
        // The request log: its rows describe ledger rows copied above.
        let mut after = String::new();
        loop {
            self.renew_move(claim).await?;
            match source.copy_log_page(&target, &after, PAGE).await? {
                Some(last) => after = last,
                None => break,
            }
        }
        Ok(copied)
    }

    /// Every source row must be in the target. Writers add to both while
    /// this runs, source first, so the target may briefly trail by a batch:
    /// counting the source first and waiting for the target to catch up
    /// proves it holds at least as many rows as the source had.
    async fn verify(
        &self,
        claim: &MoveClaim,
        from: &Location,
        to: &Location,
        epoch: i64,
    ) -> Result<(i64, i64), DbError> {
        let tenant_id = claim.tenant_id.as_str();
        let source = self.at(tenant_id, from)?;
        let target = self.at(tenant_id, to)?;
        let total = |c: Vec<(String, i64)>| c.iter().map(|(_, n)| n).sum::<i64>();
        let mut last = (0, 0);
        for _ in 0..VERIFY_ATTEMPTS {
            let s = total(source.row_counts().await?);
            let t = total(target.row_counts().await?);
            last = (s, t);
            if t >= s {
                return Ok(last);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            self.copy(claim, from, to, epoch).await?;
        }
        Err(DbError::Verify(format!(
            "source has {} rows, target {}",
            last.0, last.1
        )))
    }

    /// Makes the target the tenant's store, in one transaction with the
    /// tenant's recorded level, while this run still holds the store.
    async fn switch(
        &self,
        claim: &MoveClaim,
        p: &Placement,
        target: &Location,
        epoch: i64,
        on_switch: OnSwitch<'_>,
    ) -> Result<(), DbError> {
        let now = now_millis();
        let mut tx = self.main.pool.begin().await?;
        let changed = sqlx::query(
            "UPDATE tenant_stores SET level = $1, location = $2, target_level = NULL, \
             target_location = NULL, epoch = epoch + 1, updated_at = $3 \
             WHERE tenant_id = $4 AND epoch = $5 AND mover = $6",
        )
        .bind(target.level().as_str())
        .bind(target.stored())
        .bind(now)
        .bind(&p.tenant_id)
        .bind(epoch)
        .bind(&claim.run)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Err(DbError::MoveRunning);
        }
        on_switch(&mut tx).await?;
        tx.commit().await?;
        self.placement(&p.tenant_id).await?;
        Ok(())
    }

    /// Moves the placement to its next epoch, only from the epoch it was
    /// read at: with a target, dual writes start (and only if no move is
    /// running and no erasure holds the store); without, the target is
    /// dropped. False if another replica, move or erasure got there first,
    /// or this run lost its claim.
    async fn next_epoch(
        &self,
        claim: &MoveClaim,
        p: &Placement,
        target: Option<&Location>,
    ) -> Result<bool, DbError> {
        // Erasures' leases are on the database's clock.
        let now = self.main.clock_ms().await?;
        let changed = sqlx::query(
            "UPDATE tenant_stores SET target_level = $4, target_location = $5, \
             epoch = epoch + 1, updated_at = $1 WHERE tenant_id = $2 AND epoch = $3 \
             AND mover = $6 AND ($4 IS NULL OR (target_level IS NULL \
             AND (erasing_until IS NULL OR erasing_until < $1)))",
        )
        .bind(now)
        .bind(&p.tenant_id)
        .bind(p.epoch)
        .bind(target.map(|t| t.level().as_str()))
        .bind(target.map(Location::stored))
        .bind(&claim.run)
        .execute(&self.main.pool)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    /// Stops writing to an interrupted move's target, then removes it.
    async fn abandon(
        &self,
        claim: &MoveClaim,
        p: &Placement,
        target: &Location,
    ) -> Result<(), DbError> {
        let changed = self.next_epoch(claim, p, None).await?;
        if !changed {
            return Err(DbError::MoveRunning);
        }
        self.erase(&p.tenant_id, target).await?;
        Ok(())
    }
}

#[derive(FromRow)]
struct PageRow {
    request_id: String,
    created_at: i64,
    mode: String,
    prompt: String,
    response: String,
    prompt_bytes: i64,
    response_bytes: i64,
}

impl PageRow {
    fn into_entry(self, subjects: Vec<String>) -> Result<(String, i64, LogEntry), DbError> {
        let mode = self
            .mode
            .parse()
            .map_err(|e| DbError::Store(format!("request log mode: {e}")))?;
        let entry = LogEntry {
            mode,
            prompt: self.prompt,
            response: self.response,
            prompt_bytes: self.prompt_bytes,
            response_bytes: self.response_bytes,
            subjects,
        };
        Ok((self.request_id, self.created_at, entry))
    }
}

impl TenantStore {
    /// Copies log rows after `after` (request-id order) to `target`, one
    /// page; returns the last id copied. For isolation moves: rows written
    /// during the move reach the target by dual writes.
    async fn copy_log_page(
        &self,
        target: &TenantStore,
        after: &str,
        limit: i64,
    ) -> Result<Option<String>, DbError> {
        let mut tx = self.begin().await?;
        let sql = format!(
            "SELECT request_id, created_at, mode, prompt, response, prompt_bytes, response_bytes \
             FROM {} WHERE tenant_id = $1 AND request_id > $2 ORDER BY request_id LIMIT $3",
            self.table("request_log")
        );
        let rows: Vec<PageRow> = sqlx::query_as(&sql)
            .bind(&self.tenant_id)
            .bind(after)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        let Some(last) = rows.last().map(|r| r.request_id.clone()) else {
            tx.commit().await?;
            return Ok(None);
        };
        let mut entries = Vec::with_capacity(rows.len());
        for r in rows {
            let sql = format!(
                "SELECT subject FROM {} WHERE tenant_id = $1 AND request_id = $2",
                self.table("request_log_subjects")
            );
            let subjects: Vec<String> = sqlx::query_scalar(&sql)
                .bind(&self.tenant_id)
                .bind(&r.request_id)
                .fetch_all(&mut *tx)
                .await?;
            entries.push(r.into_entry(subjects)?);
        }
        tx.commit().await?;
        let mut out = target.begin().await?;
        let rows: Vec<(&str, i64, &LogEntry)> = entries
            .iter()
            .map(|(id, at, e)| (id.as_str(), *at, e))
            .collect();
        target.insert_log_rows(&mut out, &rows).await?;
        out.commit().await?;
        Ok(Some(last))
    }
}
