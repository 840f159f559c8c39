//! The breach register (GDPR Art. 33 and 34): what a personal-data breach
//! record holds, its 72-hour notification deadline, and the Art. 34
//! decision on telling the data subjects.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

use super::time::{Millis, HOUR};
use super::validation::Invalid;

/// Art. 33(1): notify the supervisory authority within 72 hours of
/// becoming aware of the breach.
pub const DEADLINE: Millis = 72 * HOUR;
const MAX_TEXT: usize = 4_000;
const MAX_CATEGORIES: usize = 32;

/// Art. 34: whether the data subjects are told.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Art34Decision {
    /// High risk to their rights: they are told without undue delay.
    NotifySubjects,
    /// Not required (no high risk, data unintelligible, or measures taken).
    NotRequired,
}

impl Art34Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Art34Decision::NotifySubjects => "notify_subjects",
            Art34Decision::NotRequired => "not_required",
        }
    }
}

impl FromStr for Art34Decision {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().replace('-', "_").as_str() {
            "notify_subjects" => Ok(Art34Decision::NotifySubjects),
            "not_required" => Ok(Art34Decision::NotRequired),
            _ => Err(Invalid::new(
                "art34",
                "must be notify_subjects or not_required",
            )),
        }
    }
}

/// What is known when a breach is recorded (Art. 33(3)).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewBreach {
    pub detected_at: Millis,
    pub nature: String,
    pub categories: Vec<String>,
    pub subjects_approx: i64,
    pub records_approx: i64,
    pub consequences: String,
    pub measures: String,
    pub dpo: String,
}

fn text(field: &'static str, v: &str, required: bool) -> Result<String, Invalid> {
    let v = v.trim();
    if required && v.is_empty() {
        return Err(Invalid::new(field, "is required"));
    }
    if v.chars().count() > MAX_TEXT || v.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Invalid::new(
            field,
            format!("must be plain text of at most {MAX_TEXT} characters"),
        ));
    }
    Ok(v.to_string())
}

impl NewBreach {
    /// Validates what a person typed; `now` bounds the detection time.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        detected_at: Millis,
        nature: &str,
        categories: &str,
        (subjects, records): (i64, i64),
        consequences: &str,
        measures: &str,
        dpo: &str,
        now: Millis,
    ) -> Result<Self, Invalid> {
        if detected_at > now + HOUR {
            return Err(Invalid::new("detected_at", "must not be in the future"));
        }
        if subjects < 0 || records < 0 {
            return Err(Invalid::new("counts", "must not be negative"));
        }
        let categories: Vec<String> = categories
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| text("categories", c, true))
            .collect::<Result<_, _>>()?;
        if categories.is_empty() || categories.len() > MAX_CATEGORIES {
            return Err(Invalid::new(
                "categories",
                format!("must name 1 to {MAX_CATEGORIES} categories, comma separated"),
            ));
        }
        Ok(NewBreach {
            detected_at,
            nature: text("nature", nature, true)?,
            categories,
            subjects_approx: subjects,
            records_approx: records,
            consequences: text("consequences", consequences, true)?,
            measures: text("measures", measures, true)?,
            dpo: text("dpo", dpo, true)?,
        })
    }
}

impl NewBreach {
    /// The same checks for facts that arrive whole (the admin API) as for
    /// a typed form; a category cannot contain a comma.
    pub fn checked(&self, now: Millis) -> Result<Self, Invalid> {
        if self.categories.iter().any(|c| c.contains(',')) {
            return Err(Invalid::new(
                "categories",
                "a category cannot contain a comma",
            ));
        }
        NewBreach::new(
            self.detected_at,
            &self.nature,
            &self.categories.join(","),
            (self.subjects_approx, self.records_approx),
            &self.consequences,
            &self.measures,
            &self.dpo,
            now,
        )
    }
}

/// A recorded breach.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breach {
    pub id: String,
    pub tenant_id: Option<String>,
    pub recorded_at: Millis,
    pub recorded_by: String,
    #[serde(flatten)]
    pub facts: NewBreach,
    pub notified_at: Option<Millis>,
    pub notification_ref: Option<String>,
    /// Tenants (controllers) the operator informed, with when.
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Vec<Object>>))]
    pub tenants_informed: Vec<(String, Millis)>,
    pub art34_decision: Option<Art34Decision>,
    pub art34_reason: Option<String>,
}

/// Where a breach stands against its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineState {
    /// Not notified; this many milliseconds are left.
    Open(Millis),
    /// Not notified, and the deadline passed this long ago.
    Overdue(Millis),
    /// Notified within the 72 hours.
    NotifiedOnTime,
    /// Notified after them (Art. 33(1) asks for the reasons).
    NotifiedLate,
}

impl Breach {
    pub fn deadline(&self) -> Millis {
        self.facts.detected_at.saturating_add(DEADLINE)
    }

    pub fn state(&self, now: Millis) -> DeadlineState {
        let deadline = self.deadline();
        match self.notified_at {
            Some(at) if at <= deadline => DeadlineState::NotifiedOnTime,
            Some(_) => DeadlineState::NotifiedLate,
            None if now <= deadline => DeadlineState::Open(deadline - now),
            None => DeadlineState::Overdue(now - deadline),
        }
    }

    /// The countdown as the portal shows it.
    pub fn countdown(&self, now: Millis) -> String {
        let hours = |ms: Millis| ms / HOUR;
        match self.state(now) {
            DeadlineState::Open(left) => {
                format!("{}h {}m left", hours(left), (left % HOUR) / 60_000)
            }
            DeadlineState::Overdue(by) => format!("overdue by {}h", hours(by)),
            DeadlineState::NotifiedOnTime => "notified on time".into(),
            DeadlineState::NotifiedLate => "notified late".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breach(detected_at: Millis, notified_at: Option<Millis>) -> Breach {
        let facts = NewBreach::new(
            detected_at,
            "lost laptop",
            "EMAIL_ADDRESS, usage records",
            (10, 100),
            "exposure of addresses",
            "keys rotated",
            "dpo@x.io",
            detected_at,
        )
        .expect("valid");
        Breach {
            id: "b".into(),
            tenant_id: None,
            recorded_at: detected_at,
            recorded_by: "cli".into(),
            facts,
            notified_at,
            notification_ref: None,
            tenants_informed: vec![],
            art34_decision: None,
            art34_reason: None,
        }
    }

    #[test]
    fn the_deadline_is_72_hours_from_detection() {
        let b = breach(0, None);
        assert_eq!(b.state(HOUR), DeadlineState::Open(71 * HOUR));
        assert_eq!(b.countdown(HOUR + 30 * 60_000), "70h 30m left");
        assert_eq!(b.state(75 * HOUR), DeadlineState::Overdue(3 * HOUR));
        assert_eq!(
            breach(0, Some(72 * HOUR)).state(0),
            DeadlineState::NotifiedOnTime
        );
        assert_eq!(
            breach(0, Some(73 * HOUR)).state(0),
            DeadlineState::NotifiedLate
        );
    }

    #[test]
    fn records_are_validated() {
        let ok = |c: &str| NewBreach::new(0, "n", c, (1, 1), "c", "m", "d", 0);
        assert_eq!(ok("a, b").map(|b| b.categories.len()), Ok(2));
        assert!(ok(" , ").is_err());
        assert!(NewBreach::new(0, "", "a", (1, 1), "c", "m", "d", 0).is_err());
        assert!(NewBreach::new(0, "n", "a", (-1, 1), "c", "m", "d", 0).is_err());
        assert!(NewBreach::new(5 * HOUR, "n", "a", (1, 1), "c", "m", "d", 0).is_err());
        assert!(
            NewBreach::new(0, &"x".repeat(MAX_TEXT + 1), "a", (1, 1), "c", "m", "d", 0).is_err()
        );
        assert_eq!("not-required".parse(), Ok(Art34Decision::NotRequired));
    }
}
