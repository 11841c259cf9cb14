//! The simulation loop: month by month, first every force's new crimes (each planned with its
//! whole timeline up to `to`), then every force's export file for the month.
//!
//! Memory holds only what is still to be written: the versions of the current month and the
//! future versions of crimes that will still change (outcomes, reclassifications, late flags,
//! cancellations, transfers and the receivers' new records), plus one month of ground-truth
//! groups. Nothing of a past month is kept.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use model::{Category, ForceId, HomeOfficeOutcome, OffenceCode, Region, Status};
use rand::Rng as _;

use crate::crime::{Crime, References, Version, date_of_birth};
use crate::dialect::{FileStats, WriteContext, national_record, write_file};
use crate::mix::Tables;
use crate::options::Options;
use crate::random::{
    Purpose, Rng, between, chance, index, lag_days, poisson, stream, unit, weighted,
};
use crate::rates::{
    RateCurve, crime_share, day_factor, financial_year, online_share, receiver_weight,
};
use crate::summary::{ForceSummary, Summary};
use crate::truth::Truth;
use crate::{Error, dialect_of, extension};

/// The kinds of crime generated each day.
#[derive(Debug, Clone, Copy)]
enum Stream {
    /// Online (cyber-flagged) child sexual offences.
    OnlineChild,
    /// Online indecent images of children (`86/2`).
    OnlineImages,
    /// Child sexual offences without the flag.
    OfflineChild,
    /// Volume crime of one category (all-crime mode), with its cyber share.
    General(Category, f64),
}

/// A crime about to be recorded.
#[derive(Debug, Clone)]
struct Draft {
    force: ForceId,
    recorded: NaiveDate,
    code: Option<OffenceCode>,
    category: Category,
    /// The crime is online (flagged now, or later when `late_flag`).
    cyber: bool,
    late_flag: bool,
    age: Option<u8>,
    dob: Option<NaiveDate>,
    offence_from: NaiveDate,
    offence_to: NaiveDate,
    general: bool,
}

/// A later change to a crime.
#[derive(Debug, Clone, Copy)]
enum Event {
    Flag,
    Reclassify(OffenceCode),
    Outcome(HomeOfficeOutcome),
    Cancel,
    Transfer(ForceId),
}

/// A monthly file as first written (re-sends copy it).
#[derive(Debug)]
struct Original {
    path: PathBuf,
    month: String,
    stats: FileStats,
}

/// One force's files so far.
#[derive(Debug, Default)]
struct Exports {
    files: Vec<PathBuf>,
    originals: Vec<Original>,
}

/// The state of a running simulation.
#[derive(Debug)]
struct Sim<'a> {
    options: &'a Options,
    tables: Tables,
    curve: RateCurve,
    forces: Vec<ForceId>,
    /// Simulated forces that can receive transfers (in the Home Office statistics).
    receivers: Vec<ForceId>,
    dir: PathBuf,
    first_month: i32,
    references: References,
    pending: BTreeMap<(u32, ForceId), Vec<Version>>,
    truth: Truth,
    summary: Summary,
    exports: BTreeMap<ForceId, Exports>,
}

/// Position of a force in `ForceId::all()`: the stable seed component of its streams.
fn force_index(force: ForceId) -> u64 {
    ForceId::all()
        .position(|other| other == force)
        .map_or(0, |position| position as u64)
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A time of day between 07:00:00 and 21:59:59.
fn office_time(rng: &mut Rng) -> NaiveTime {
    NaiveTime::from_num_seconds_from_midnight_opt(between(rng, 7 * 3600, 22 * 3600 - 1), 0)
        .unwrap_or(NaiveTime::MIN)
}

fn add_days(date: NaiveDate, days: i64) -> NaiveDate {
    let magnitude = Days::new(days.unsigned_abs());
    if days >= 0 {
        date.checked_add_days(magnitude)
    } else {
        date.checked_sub_days(magnitude)
    }
    .unwrap_or(date)
}

impl<'a> Sim<'a> {
    fn new(options: &'a Options, dir: PathBuf) -> Result<Sim<'a>, Error> {
        let forces = options.simulated_forces();
        let mut summary = Summary::new(options);
        for force in &forces {
            summary.forces.insert(
                force.as_str().to_owned(),
                ForceSummary::new(dialect_of(*force)),
            );
        }
        Ok(Sim {
            options,
            tables: Tables::new()?,
            curve: RateCurve::new(options),
            receivers: forces
                .iter()
                .copied()
                .filter(|force| force.in_home_office_statistics())
                .collect(),
            forces,
            truth: Truth::new(dir.join(".ground-truth-parts"))?,
            dir,
            first_month: options.from.year() * 12 + options.from.month0() as i32,
            references: References::default(),
            pending: BTreeMap::new(),
            summary,
            exports: BTreeMap::new(),
        })
    }

    fn month_index(&self, date: NaiveDate) -> u32 {
        let month = date.year() * 12 + date.month0() as i32;
        u32::try_from(month - self.first_month).unwrap_or(0)
    }

    /// A receiving force for a transfer from `from`, by size.
    fn receiver(&self, rng: &mut Rng, from: ForceId, general: bool) -> Option<ForceId> {
        let choices: Vec<(ForceId, f64)> = self
            .receivers
            .iter()
            .filter(|force| **force != from)
            .map(|force| (*force, receiver_weight(*force, general)))
            .collect();
        weighted(rng, &choices)
    }

    /// A new crime of `stream` recorded by `force` on `recorded`.
    fn draft(&self, rng: &mut Rng, force: ForceId, recorded: NaiveDate, stream: Stream) -> Draft {
        let options = self.options;
        let (code, cyber, general) = match stream {
            Stream::OnlineChild => (
                Some(self.tables.child_code(rng, recorded, true)),
                true,
                false,
            ),
            Stream::OnlineImages => (Some(self.tables.images), true, false),
            Stream::OfflineChild => (
                Some(self.tables.child_code(rng, recorded, false)),
                false,
                false,
            ),
            Stream::General(_, cyber_share) => (None, chance(rng, cyber_share), true),
        };
        let late_flag = cyber && chance(rng, options.late_flag_rate);
        let offence = code.and_then(OffenceCode::offence);
        let category = match (stream, offence) {
            (Stream::General(category, _), _) => category,
            (_, Some(offence)) => offence.category,
            (_, None) => Category::ViolentCrime,
        };
        let age = match offence {
            Some(offence) => {
                let unknown = if code == Some(self.tables.images) {
                    options.images_unknown_age_share
                } else {
                    options.unknown_age_share
                };
                if chance(rng, unknown) {
                    None
                } else {
                    self.tables.age(rng, offence.victim_age)
                }
            }
            None => None,
        };
        let (offence_from, offence_to) = if general {
            let from = add_days(recorded, -lag_days(rng, 0, 1.0, 30));
            (
                from,
                add_days(from, i64::from(between(rng, 0, 1))).min(recorded),
            )
        } else if chance(rng, 0.15) {
            let from = add_days(recorded, -lag_days(rng, 60, 400.0, 1500));
            (
                from,
                add_days(from, lag_days(rng, 0, 30.0, 365)).min(recorded),
            )
        } else {
            let from = add_days(recorded, -lag_days(rng, 0, 14.0, 120));
            (
                from,
                add_days(from, lag_days(rng, 0, 10.0, 90)).min(recorded),
            )
        };
        let dob = age.and_then(|age| date_of_birth(rng, age, offence_from, recorded));
        Draft {
            force,
            recorded,
            code,
            category,
            cyber,
            late_flag,
            age,
            dob,
            offence_from,
            offence_to,
            general,
        }
    }

    /// An LSOA number in a block of the force's country.
    fn lsoa(rng: &mut Rng, force: ForceId) -> u32 {
        let position = u32::try_from(force_index(force)).unwrap_or(0);
        if force.info().region == Region::Wales {
            1 + (position * 397) % 1500 + between(rng, 0, 399)
        } else {
            1 + (position * 761) % 32000 + between(rng, 0, 799)
        }
    }

    /// Records a crime: draws its later changes, builds its versions up to `to`, queues them
    /// for their months' files, counts its final state and, for a transfer, records the
    /// receiver's crime.
    fn plan(&mut self, rng: &mut Rng, draft: Draft, can_transfer: bool) {
        let options = self.options;
        let recorded = draft.recorded;
        let reference = self.references.next(draft.force, recorded.year(), rng);
        let recorded_at = recorded.and_time(office_time(rng));
        let lsoa = chance(rng, 0.85).then(|| Sim::lsoa(rng, draft.force));
        let crime = Rc::new(Crime {
            force: draft.force,
            reference,
            recorded_at,
            offence_from: draft.offence_from,
            offence_to: draft.offence_to,
            age: draft.age,
            dob: draft.dob,
            lsoa,
            private_seed: rng.random::<u64>(),
            general: draft.general,
        });

        let mut events: Vec<(NaiveDate, Event)> = Vec::new();
        if draft.late_flag {
            events.push((add_days(recorded, lag_days(rng, 1, 40.0, 365)), Event::Flag));
        }
        if let Some(code) = draft.code
            && self.tables.reclassifiable(code)
            && chance(rng, options.reclassification_rate)
        {
            let target = self.tables.reclassification(rng, code, draft.age);
            events.push((
                add_days(recorded, lag_days(rng, 7, 60.0, 540)),
                Event::Reclassify(target),
            ));
        }
        if chance(rng, options.outcome_rate) {
            let days = if draft.general {
                lag_days(rng, 5, 25.0, 180)
            } else {
                lag_days(rng, 30, 120.0, 720)
            };
            let outcome = self.tables.outcome(rng, draft.general);
            events.push((add_days(recorded, days), Event::Outcome(outcome)));
        }
        let terminal = unit(rng);
        if terminal < options.cancellation_rate {
            events.push((
                add_days(recorded, lag_days(rng, 2, 30.0, 365)),
                Event::Cancel,
            ));
        } else if can_transfer
            && terminal < options.cancellation_rate + options.transfer_rate
            && let Some(to) = self.receiver(rng, draft.force, draft.general)
        {
            events.push((
                add_days(recorded, lag_days(rng, 1, 10.0, 120)),
                Event::Transfer(to),
            ));
        }
        events.sort_by_key(|(date, _)| *date);

        let mut versions = vec![Version {
            crime,
            seq: 1,
            at: recorded_at,
            status: Status::Recorded,
            code: draft.code,
            category: draft.category,
            cyber: draft.cyber && !draft.late_flag,
            outcome: None,
        }];
        let mut transfer = None;
        for (date, event) in events {
            let Some(previous) = versions.last() else {
                break;
            };
            let mut at: NaiveDateTime = date.and_time(office_time(rng));
            if at <= previous.at {
                at = previous.at + TimeDelta::seconds(i64::from(between(rng, 60, 3600)));
            }
            if at.date() > options.to {
                break;
            }
            let mut next = previous.clone();
            next.seq += 1;
            next.at = at;
            match event {
                Event::Flag => {
                    next.cyber = true;
                    self.summary.late_flags += 1;
                }
                Event::Reclassify(code) => {
                    next.code = Some(code);
                    if let Some(offence) = code.offence() {
                        next.category = offence.category;
                    }
                    self.summary.reclassifications += 1;
                }
                Event::Outcome(outcome) => {
                    next.outcome = Some(outcome);
                    self.summary.outcomes += 1;
                }
                Event::Cancel => {
                    next.status = Status::Cancelled;
                    self.summary.cancellations += 1;
                }
                Event::Transfer(to) => {
                    next.status = Status::Transferred { to };
                    self.summary.transfers += 1;
                    transfer = Some((to, at.date()));
                }
            }
            let ended = next.status != Status::Recorded;
            versions.push(next);
            if ended {
                break;
            }
        }

        self.summary.crimes += 1;
        if let Some(last) = versions.last()
            && last.status == Status::Recorded
        {
            self.count(last);
        }
        let last = versions.last().cloned();
        for version in versions {
            let month = self.month_index(version.at.date());
            self.pending
                .entry((month, draft.force))
                .or_default()
                .push(version);
        }

        if let (Some((to, date)), Some(last)) = (transfer, last) {
            let received = add_days(date, i64::from(between(rng, 1, 21)));
            if received <= options.to {
                let receiver = Draft {
                    force: to,
                    recorded: received,
                    code: last.code,
                    category: last.category,
                    late_flag: false,
                    ..draft
                };
                self.plan(rng, receiver, false);
            }
        }
    }

    /// Counts a crime whose latest version is `last` (status recorded).
    fn count(&mut self, last: &Version) {
        let recorded = last.crime.recorded();
        let month = self.month_index(recorded);
        self.truth.add(month, last);
        let online_child = last.cyber
            && last.code.is_some()
            && national_record(last).is_ok_and(|record| record.is_child_sexual_offence());
        let year = online_child.then(|| financial_year(recorded));
        self.summary.national.add(year.as_deref());
        if let Some(force) = self.summary.forces.get_mut(last.crime.force.as_str()) {
            force.totals.add(year.as_deref());
        }
    }

    /// Generates the crimes `force` records on `day`.
    fn generate_day(&mut self, rng: &mut Rng, force: ForceId, day: NaiveDate) {
        let options = self.options;
        let factor = day_factor(options, force, day) / (1.0 - options.cancellation_rate);
        let online = self.curve.at(day) * online_share(force) * factor;
        let offline = online * options.non_cyber_share / (1.0 - options.non_cyber_share);
        let mut streams = vec![
            (Stream::OnlineChild, online),
            (Stream::OnlineImages, online * options.indecent_images_ratio),
            (Stream::OfflineChild, offline),
        ];
        if options.all_crime {
            let per_day = options.all_crime_per_year / 365.25 * crime_share(force) * factor;
            for &(category, share, cyber) in &self.tables.categories {
                streams.push((Stream::General(category, cyber), per_day * share));
            }
        }
        for (stream, mean) in streams {
            for _ in 0..poisson(rng, mean) {
                let draft = self.draft(rng, force, day, stream);
                self.plan(rng, draft, true);
            }
        }
    }

    /// Generates every force's crimes of one month.
    fn generate_month(&mut self, month: u32, first: NaiveDate, last: NaiveDate) {
        for force in self.forces.clone() {
            let mut rng = stream(
                self.options.seed,
                Purpose::Generate,
                force_index(force),
                u64::from(month),
            );
            let mut day = first;
            while day <= last {
                self.generate_day(&mut rng, force, day);
                let Some(next) = day.succ_opt() else {
                    break;
                };
                day = next;
            }
        }
    }

    fn record_file(&mut self, force: ForceId, stats: &FileStats, resent: bool) {
        let malformed = stats.malformed.len() as u64;
        let summary = &mut self.summary;
        summary.files += 1;
        summary.rows += stats.versions + malformed;
        summary.record_versions += stats.versions;
        if resent {
            summary.resent_files += 1;
            summary.resent_record_versions += stats.versions;
        }
        for kind in &stats.malformed {
            *summary.malformed_rows.entry(*kind).or_insert(0) += 1;
        }
        if let Some(force) = summary.forces.get_mut(force.as_str()) {
            force.files += 1;
            force.rows += stats.versions + malformed;
            force.record_versions += stats.versions;
        }
    }

    /// Writes every force's file of one month, and any re-send.
    fn write_month(&mut self, month: u32, label: &str) -> Result<(), Error> {
        for force in self.forces.clone() {
            let mut versions = self.pending.remove(&(month, force)).unwrap_or_default();
            versions.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
            let dialect = dialect_of(force);
            let ext = extension(dialect);
            let folder = self.dir.join("exports").join(force.as_str());
            let sequence = self.exports.get(&force).map_or(0, |e| e.files.len()) + 1;
            let path = folder.join(format!("{sequence:04}-{label}.{ext}"));
            let mut context = WriteContext {
                options: self.options,
                tables: &self.tables,
                references: &mut self.references,
                rng: stream(
                    self.options.seed,
                    Purpose::Write,
                    force_index(force),
                    u64::from(month),
                ),
            };
            let stats = write_file(&path, dialect, &versions, &mut context)?;
            drop(versions);
            let mut rng = context.rng;
            self.record_file(force, &stats, false);
            let exports = self.exports.entry(force).or_default();
            exports.files.push(path.clone());
            exports.originals.push(Original {
                path,
                month: label.to_owned(),
                stats,
            });
            if !chance(&mut rng, self.options.resend_probability) {
                continue;
            }
            let pick = index(&mut rng, exports.originals.len());
            let Some(original) = exports.originals.get(pick) else {
                continue;
            };
            let sequence = exports.files.len() + 1;
            let copy = folder.join(format!("{sequence:04}-{}-resend.{ext}", original.month));
            std::fs::copy(&original.path, &copy).map_err(io_error(&copy))?;
            let stats = original.stats.clone();
            exports.files.push(copy);
            self.record_file(force, &stats, true);
        }
        Ok(())
    }
}

/// Runs the whole simulation into `dir` (see [`crate::write_simulation`]).
pub(crate) fn run(options: &Options, dir: &Path) -> Result<Summary, Error> {
    options.validate()?;
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let dir = std::fs::canonicalize(dir).map_err(io_error(dir))?;
    let exports = dir.join("exports");
    if exports.exists() {
        return Err(Error::OutputExists(exports));
    }
    let forces = options.simulated_forces();
    for force in &forces {
        let folder = exports.join(force.as_str());
        std::fs::create_dir_all(&folder).map_err(io_error(&folder))?;
    }
    for folder in [dir.join("profiles"), dir.join("state")] {
        std::fs::create_dir_all(&folder).map_err(io_error(&folder))?;
    }

    let mut sim = Sim::new(options, dir.clone())?;
    let mut month_start = options.from.with_day(1).unwrap_or(options.from);
    let mut month = 0u32;
    while month_start <= options.to {
        let next_month = month_start
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(NaiveDate::MAX);
        let first = month_start.max(options.from);
        let last = next_month.pred_opt().unwrap_or(next_month).min(options.to);
        sim.generate_month(month, first, last);
        let label = month_start.format("%Y-%m").to_string();
        sim.write_month(month, &label)?;
        sim.truth.flush(month)?;
        month_start = next_month;
        month += 1;
    }
    if !sim.pending.is_empty() {
        return Err(Error::Internal(format!(
            "{} groups of versions were never written",
            sim.pending.len()
        )));
    }

    sim.truth.finish(&dir.join("ground-truth.csv"))?;
    for force in &forces {
        let files = sim
            .exports
            .get(force)
            .map(|exports| exports.files.clone())
            .unwrap_or_default();
        let checkpoint = dir.join("state").join(format!("{force}.checkpoint.json"));
        let text = crate::profile::profile_text(
            *force,
            dialect_of(*force),
            &files,
            &checkpoint,
            options.all_crime,
            options.seed,
        );
        crate::profile::write_profile(&dir, *force, &text)?;
    }
    let summary = sim.summary;
    let path = dir.join("summary.json");
    let mut json = serde_json::to_string_pretty(&summary)
        .map_err(|error| Error::Internal(error.to_string()))?;
    json.push('\n');
    std::fs::write(&path, json).map_err(io_error(&path))?;
    Ok(summary)
}
