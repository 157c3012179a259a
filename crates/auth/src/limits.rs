//! Rate limits on the account actions that send mail or check passwords: per client IP and per
//! account (the email address the request names), with `governor`'s GCRA limiters.
//!
//! The limits live in the process: with several replicas each enforces its own share.

use governor::clock::{Clock as _, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// What is being limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Signup,
    Login,
    /// Asking for a password-reset link, or using one.
    PasswordReset,
    /// Asking for a new verification link.
    Verification,
    EmailChange,
    /// Checking the current password to change it or delete the account.
    PasswordCheck,
    /// Asking the configured model (a paid service, usually) for a plan.
    ModelPlan,
}

/// Limits per action: requests per minute from one IP, per hour for one account.
#[derive(Debug, Clone, Copy)]
pub struct LimitConfig {
    pub per_ip_per_minute: u32,
    pub per_account_per_hour: u32,
}

impl Default for LimitConfig {
    fn default() -> Self {
        Self { per_ip_per_minute: 30, per_account_per_hour: 20 }
    }
}

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

pub struct RateLimits {
    per_ip: Keyed<(Action, IpAddr)>,
    per_account: Keyed<(Action, String)>,
    clock: DefaultClock,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").finish_non_exhaustive()
    }
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)
}

impl RateLimits {
    pub fn new(cfg: LimitConfig) -> Self {
        Self {
            per_ip: RateLimiter::keyed(Quota::per_minute(nz(cfg.per_ip_per_minute))),
            per_account: RateLimiter::keyed(Quota::per_hour(nz(cfg.per_account_per_hour))),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one request; `Err(wait)` when it goes over a limit.
    pub fn check(
        &self,
        action: Action,
        ip: Option<IpAddr>,
        account: Option<&str>,
    ) -> Result<(), Duration> {
        if let Some(ip) = ip
            && let Err(until) = self.per_ip.check_key(&(action, ip))
        {
            return Err(until.wait_time_from(self.clock.now()));
        }
        if let Some(account) = account {
            let mut key = (action, account.trim().to_lowercase());
            // Log-in attempts count per account *and* address, so nobody can lock an account
            // out from elsewhere by failing to log in to it.
            if action == Action::Login
                && let Some(ip) = ip
            {
                key.1 = format!("{} {ip}", key.1);
            }
            if let Err(until) = self.per_account.check_key(&key) {
                return Err(until.wait_time_from(self.clock.now()));
            }
        }
        Ok(())
    }

    /// Forgets keys whose limits have fully recovered (call now and then to bound memory).
    pub fn forget_idle(&self) {
        self.per_ip.retain_recent();
        self.per_account.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ip_and_per_account_limits_are_separate_and_per_action() {
        let l = RateLimits::new(LimitConfig { per_ip_per_minute: 2, per_account_per_hour: 3 });
        let ip: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        assert!(l.check(Action::Login, Some(ip), None).is_ok());
        assert!(l.check(Action::Login, Some(ip), None).is_ok());
        let wait = l.check(Action::Login, Some(ip), None).expect_err("third in a minute");
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(30), "{wait:?}");
        assert!(l.check(Action::Signup, Some(ip), None).is_ok(), "another action");
        assert!(l.check(Action::Login, Some(other), None).is_ok(), "another IP");

        for _ in 0..3 {
            assert!(l.check(Action::PasswordReset, None, Some("a@example.com")).is_ok());
        }
        assert!(l.check(Action::PasswordReset, None, Some(" A@example.com")).is_err());
        assert!(l.check(Action::PasswordReset, None, Some("b@example.com")).is_ok());
    }
}
