//! The epoch calendar: fixed windows aligned to midnight UTC, and each window's lifecycle.
//!
//! With the default 4 hours, epochs start at 00, 04, 08, 12, 16 and 20 UTC and are named by
//! their start, `YYYY-MM-DDTHH-00-00`. An epoch is PENDING from `pending_lead` before its start
//! (its assignment is made then), ACTIVE until its end (the submission deadline), COMPLETED for
//! `validation_window` after it (validators score it), then ARCHIVED. Uploads within
//! `grace_period` after the deadline are late but accepted; the honeypots are revealed once the
//! grace period is over.

use chrono::{DateTime, Duration, NaiveDateTime, Timelike as _, Utc};
use resi_events::Timestamp;
use serde::Deserialize;

/// The calendar's settings.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Schedule {
    /// Length of an epoch in hours; divides 24 so every day starts an epoch at midnight.
    pub epoch_hours: u32,
    /// How long before its start an epoch's assignment is made, in minutes.
    pub pending_lead_minutes: u32,
    /// Late uploads accepted after the deadline, in minutes.
    pub grace_period_minutes: u32,
    /// How long validators have to score an epoch after its end, in minutes.
    pub validation_window_minutes: u32,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            epoch_hours: 4,
            pending_lead_minutes: 15,
            grace_period_minutes: 15,
            validation_window_minutes: 30,
        }
    }
}

/// Where an epoch is in its life at some instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum EpochState {
    /// Not yet in its pending window.
    Future,
    /// Assigned, not started.
    Pending,
    /// Miners scrape and upload.
    Active,
    /// Validators score it.
    Completed,
    /// Done.
    Archived,
}

impl EpochState {
    /// The name the gateway and the database use.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Future => "FUTURE",
            Self::Pending => "PENDING",
            Self::Active => "ACTIVE",
            Self::Completed => "COMPLETED",
            Self::Archived => "ARCHIVED",
        }
    }
}

/// One epoch's window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// `YYYY-MM-DDTHH-00-00`.
    pub id: String,
    /// Start.
    pub start: DateTime<Utc>,
    /// End, which is also the submission deadline.
    pub end: DateTime<Utc>,
}

/// The id format.
const ID_FORMAT: &str = "%Y-%m-%dT%H-%M-%S";

impl Schedule {
    /// Checks the settings.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.epoch_hours > 0 && 24 % self.epoch_hours == 0,
            "coordinator.schedule.epoch_hours must divide 24, got {}",
            self.epoch_hours
        );
        anyhow::ensure!(
            i64::from(self.pending_lead_minutes) < self.length().num_minutes(),
            "coordinator.schedule.pending_lead_minutes must be shorter than an epoch"
        );
        Ok(())
    }

    fn length(&self) -> Duration {
        Duration::hours(i64::from(self.epoch_hours))
    }

    /// How long before its start an epoch is assigned.
    #[must_use]
    pub fn pending_lead(&self) -> Duration {
        Duration::minutes(i64::from(self.pending_lead_minutes))
    }

    /// How long after its deadline late uploads count and the honeypots stay hidden.
    #[must_use]
    pub fn grace_period(&self) -> Duration {
        Duration::minutes(i64::from(self.grace_period_minutes))
    }

    /// The epoch containing `instant`.
    #[must_use]
    pub fn window_at(&self, instant: DateTime<Utc>) -> Window {
        let day = instant
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc();
        let index = instant.hour() / self.epoch_hours.max(1);
        self.window_starting(day + Duration::hours(i64::from(index * self.epoch_hours)))
    }

    /// The epoch after `window`.
    #[must_use]
    pub fn next(&self, window: &Window) -> Window {
        self.window_starting(window.end)
    }

    fn window_starting(&self, start: DateTime<Utc>) -> Window {
        Window {
            id: start.format(ID_FORMAT).to_string(),
            start,
            end: start + self.length(),
        }
    }

    /// The window an id names, if it is one of this calendar's.
    #[must_use]
    pub fn window_of(&self, id: &str) -> Option<Window> {
        let start = NaiveDateTime::parse_from_str(id, ID_FORMAT).ok()?.and_utc();
        let window = self.window_at(start);
        (window.id == id).then_some(window)
    }

    /// `window`'s state at `now`.
    #[must_use]
    pub fn state(&self, window: &Window, now: DateTime<Utc>) -> EpochState {
        let validation = Duration::minutes(i64::from(self.validation_window_minutes));
        if now < window.start - self.pending_lead() {
            EpochState::Future
        } else if now < window.start {
            EpochState::Pending
        } else if now < window.end {
            EpochState::Active
        } else if now < window.end + validation {
            EpochState::Completed
        } else {
            EpochState::Archived
        }
    }
}

/// A chrono instant as an event timestamp.
#[must_use]
pub fn timestamp(instant: DateTime<Utc>) -> Timestamp {
    Timestamp::from_datetime(instant)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 10, 1, hour, minute, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn windows_align_to_four_hour_boundaries() {
        let schedule = Schedule::default();
        let window = schedule.window_at(at(17, 59));
        assert_eq!(window.id, "2025-10-01T16-00-00");
        assert_eq!(window.start, at(16, 0));
        assert_eq!(window.end, at(20, 0));
        assert_eq!(schedule.window_at(at(16, 0)).id, "2025-10-01T16-00-00");
        assert_eq!(schedule.window_at(at(15, 59)).id, "2025-10-01T12-00-00");
        let next = schedule.next(&schedule.window_at(at(23, 0)));
        assert_eq!(next.id, "2025-10-02T00-00-00");
        assert_eq!(schedule.window_of("2025-10-01T16-00-00"), Some(window));
        assert_eq!(
            schedule.window_of("2025-10-01T17-00-00"),
            None,
            "not a boundary"
        );
        assert_eq!(schedule.window_of("garbage"), None);
    }

    #[test]
    fn the_lifecycle_follows_the_clock() {
        let schedule = Schedule::default();
        let window = schedule.window_at(at(16, 0));
        let states = [
            (at(15, 44), EpochState::Future),
            (at(15, 45), EpochState::Pending),
            (at(16, 0), EpochState::Active),
            (at(19, 59), EpochState::Active),
            (at(20, 0), EpochState::Completed),
            (at(20, 29), EpochState::Completed),
            (at(20, 30), EpochState::Archived),
        ];
        for (now, state) in states {
            assert_eq!(schedule.state(&window, now), state, "at {now}");
        }
    }

    #[test]
    fn lengths_that_do_not_divide_a_day_are_refused() {
        for hours in [0, 5, 7, 25] {
            let schedule = Schedule {
                epoch_hours: hours,
                ..Schedule::default()
            };
            assert!(schedule.validate().is_err(), "{hours}");
        }
        assert!(Schedule::default().validate().is_ok());
    }
}
