//! A seeded generator of *clean* claim streams, for tests, benchmarks and demo data: every
//! event is compliant with the default rule set, so any finding on a generated stream is a
//! false positive, and a pattern planted into it must be found exactly.
//!
//! How the stream stays clean: each person's episodes follow one another with at least 30 days
//! between turns, so stays never overlap, nobody is seen elsewhere during a stay, readmissions
//! are more than 15 days apart and ordinary prescriptions (3–5 days) never pile up in 7 days;
//! chronic patients collect exactly 30 days of their one drug every 30 days (90 in any 90 days:
//! at the limit, not over); per-day items are billed once per night; receipts stay under
//! 10,000 yuan; nobody dies or leaves; and at most 3 persons of any other region are enrolled,
//! below the identity-cluster threshold of 5. Events come out in settlement order, lazily, so a
//! million of them need no more memory than the agenda of persons.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use std::collections::BTreeMap;
use yibao_core::{Bp, Fen, IdError, InstitutionCode, RegionCode, Sex};

use super::event::{ClaimAction, ClaimEvent, ClaimItem, ClaimKind, PersonKey, SupervisionEvent};
use super::inspection::SplitMix64;

/// Shape of a generated stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// Seed of the generator.
    pub seed: u64,
    /// Region of the institutions and of most persons.
    pub region: String,
    /// Persons.
    pub persons: u32,
    /// Hospitals (`H` + region + sequence).
    pub hospitals: u32,
    /// Pharmacies (`P` + region + sequence).
    pub pharmacies: u32,
    /// Share of chronic-disease patients, bp.
    pub chronic_share: Bp,
    /// First day.
    pub start: NaiveDate,
}

impl StreamConfig {
    /// Huoqiu county (341522), 2018: `persons` persons, 20 hospitals, 40 pharmacies, 20%
    /// chronic patients.
    pub fn huoqiu(seed: u64, persons: u32) -> StreamConfig {
        StreamConfig {
            seed,
            region: "341522".into(),
            persons,
            hospitals: 20,
            pharmacies: 40,
            chronic_share: Bp(2_000),
            start: NaiveDate::from_ymd_opt(2018, 1, 1).unwrap_or_default(),
        }
    }
}

/// Item codes used by the generator (illustrative [I]).
pub mod codes {
    /// 普通病房床位费, 1 per night.
    pub const BED: &str = "001101000010000";
    /// 住院诊查费, 1 per night.
    pub const INPATIENT_CONSULTATION: &str = "001102000010000";
    /// Ⅰ级护理, 1 per night.
    pub const NURSING: &str = "001202000010000";
    /// A blood-count test.
    pub const BLOOD_COUNT: &str = "002503010010000";
    /// Acute drugs (ordinary prescriptions).
    pub const ACUTE_DRUGS: [&str; 6] = [
        "XJ01CAA040A001010101445",
        "XJ01DCC022A001010101445",
        "XR05CBA021A001010101445",
        "XN02BEA011A001010101445",
        "XA02BCA009A001010101445",
        "XR06AXL017A001010101445",
    ];
    /// Chronic diseases (门诊慢特病病种, [I]) and their drug.
    pub const CHRONIC: [(&str, &str); 3] = [
        ("M03900", "XC08CAA059A001010101445"),
        ("M01600", "XA10BAA115A001010101445"),
        ("M05300", "XR03AKS186A001010101445"),
    ];
    /// Principal diagnoses of stays (ICD-10 医保版).
    pub const DIAGNOSES: [&str; 6] = [
        "J18.900", "I63.900", "K35.800", "E11.900", "N39.000", "S72.000",
    ];
    /// Diagnoses of outpatient visits.
    pub const OUTPATIENT_DIAGNOSES: [&str; 4] = ["J06.900", "K29.700", "M54.500", "R51.x00"];
}

#[derive(Debug, Clone)]
struct SynthPerson {
    key: PersonKey,
    sex: Sex,
    birth: NaiveDate,
    home: RegionCode,
    chronic: Option<usize>,
}

/// The generator: an iterator of settled claim events in settlement order, without end
/// (take as many as needed).
#[derive(Debug, Clone)]
pub struct SyntheticStream {
    rng: SplitMix64,
    persons: Vec<SynthPerson>,
    hospitals: Vec<InstitutionCode>,
    pharmacies: Vec<InstitutionCode>,
    agenda: BTreeMap<NaiveDate, Vec<u32>>,
    today: Vec<u32>,
    day: NaiveDate,
    seq_in_day: i64,
    counter: u64,
}

impl SyntheticStream {
    /// A stream for `config`.
    pub fn new(config: &StreamConfig) -> Result<SyntheticStream, IdError> {
        let region = RegionCode::parse(&config.region)?;
        let mut rng = SplitMix64::new(config.seed);
        let hospitals = (1..=config.hospitals.max(1))
            .map(|i| InstitutionCode::parse(&format!("H{}{i:05}", region.as_str())))
            .collect::<Result<Vec<_>, _>>()?;
        let pharmacies = (1..=config.pharmacies.max(1))
            .map(|i| InstitutionCode::parse(&format!("P{}{i:05}", region.as_str())))
            .collect::<Result<Vec<_>, _>>()?;
        // At most 3 persons from each of 3 neighbouring regions; the rest are local.
        let base: u32 = region.as_str().parse().unwrap_or(341_522);
        let others: Vec<RegionCode> = (1..=3u32)
            .map(|d| RegionCode::parse(&format!("{:06}", base.wrapping_add(d * 100) % 1_000_000)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut persons = Vec::with_capacity(config.persons as usize);
        let mut agenda: BTreeMap<NaiveDate, Vec<u32>> = BTreeMap::new();
        for i in 0..config.persons {
            let home = if i < 9 {
                others[(i / 3) as usize].clone()
            } else {
                region.clone()
            };
            let hash =
                SplitMix64::new(config.seed ^ u64::from(i).wrapping_mul(0x9E37_79B9)).next_u64();
            let key = PersonKey::parse(&format!("pk-{hash:016x}-{i}"))
                .map_err(|_| IdError::Character(1))?;
            let sex = if rng.below(2) == 0 {
                Sex::Male
            } else {
                Sex::Female
            };
            let birth = NaiveDate::from_ymd_opt(
                1935 + i32::try_from(rng.below(70)).unwrap_or(0),
                1 + rng.below(12) as u32,
                1 + rng.below(28) as u32,
            )
            .unwrap_or_default();
            let chronic = (rng.below(10_000) < u64::from(config.chronic_share.0))
                .then(|| rng.below(codes::CHRONIC.len() as u64) as usize);
            persons.push(SynthPerson {
                key,
                sex,
                birth,
                home,
                chronic,
            });
            // First turn within 45 days, leaving room for a stay that ends on it.
            let first = config.start + Duration::days(15 + rng.below(45) as i64);
            agenda.entry(first).or_default().push(i);
        }
        Ok(SyntheticStream {
            rng,
            persons,
            hospitals,
            pharmacies,
            agenda,
            today: Vec::new(),
            day: config.start,
            seq_in_day: 0,
            counter: 0,
        })
    }

    /// The hospitals of the stream.
    pub fn hospitals(&self) -> &[InstitutionCode] {
        &self.hospitals
    }

    /// The pharmacies of the stream.
    pub fn pharmacies(&self) -> &[InstitutionCode] {
        &self.pharmacies
    }

    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.rng.below(v.len() as u64) as usize]
    }

    fn hospital(&mut self) -> InstitutionCode {
        let i = self.rng.below(self.hospitals.len() as u64) as usize;
        self.hospitals[i].clone()
    }

    fn pharmacy(&mut self) -> InstitutionCode {
        let i = self.rng.below(self.pharmacies.len() as u64) as usize;
        self.pharmacies[i].clone()
    }

    fn claim(&mut self, idx: u32, day: NaiveDate) -> (ClaimEvent, NaiveDate) {
        self.counter += 1;
        self.seq_in_day += 1;
        let n = self.counter;
        let p = self.persons[idx as usize].clone();
        let settled_at = NaiveDateTime::new(day, NaiveTime::MIN)
            + Duration::hours(8)
            + Duration::seconds(self.seq_in_day);
        let mut e = ClaimEvent {
            event_id: format!("E{n:010}"),
            claim_id: format!("C{n:010}"),
            action: ClaimAction::Settled,
            settled_at,
            person: p.key.clone(),
            sex: p.sex,
            birth_date: p.birth,
            home_region: p.home.clone(),
            institution: self.hospitals[0].clone(),
            physician: None,
            kind: ClaimKind::Outpatient,
            start_date: day,
            end_date: day,
            principal_diagnosis: None,
            chronic_disease: None,
            items: Vec::new(),
            total: Fen::ZERO,
            fund_paid: Fen::ZERO,
            enrolment_end: None,
            death_date: None,
        };
        let next = match p.chronic {
            Some(c) => self.chronic_visit(&mut e, idx, c, day),
            None => {
                let roll = self.rng.below(100);
                if roll < 15 {
                    self.inpatient_stay(&mut e, day);
                } else if roll < 75 {
                    self.outpatient_visit(&mut e);
                } else {
                    self.pharmacy_sale(&mut e);
                }
                day + Duration::days(30 + self.rng.below(30) as i64)
            }
        };
        e.total = e
            .items
            .iter()
            .fold(Fen::ZERO, |acc, i| Fen(acc.0 + i.amount.0));
        e.fund_paid = e.total.at_rate(Bp(7_000));
        (e, next)
    }

    /// A chronic patient's monthly visit to their hospital: 30 days of their drug. Returns the
    /// day of the next visit.
    fn chronic_visit(
        &mut self,
        e: &mut ClaimEvent,
        idx: u32,
        c: usize,
        day: NaiveDate,
    ) -> NaiveDate {
        let (disease, drug) = codes::CHRONIC[c];
        e.kind = ClaimKind::Chronic;
        e.institution = self.hospitals[idx as usize % self.hospitals.len()].clone();
        e.chronic_disease = Some(disease.into());
        let unit = Fen(150 + self.rng.below(300) as i64);
        e.items.push(ClaimItem {
            code: drug.into(),
            quantity: 30,
            unit_price: unit,
            amount: Fen(unit.0 * 30),
            days_supply: 30,
        });
        day + Duration::days(30)
    }

    /// A stay of 2–10 nights ending on `day`: bed, consultation and nursing per night, drugs.
    fn inpatient_stay(&mut self, e: &mut ClaimEvent, day: NaiveDate) {
        let nights = 2 + self.rng.below(9) as i64;
        e.kind = ClaimKind::Inpatient;
        e.institution = self.hospital();
        e.start_date = day - Duration::days(nights);
        e.principal_diagnosis = Some((*self.pick(&codes::DIAGNOSES)).into());
        let q = u32::try_from(nights).unwrap_or(1);
        for (code, price) in [
            (codes::BED, 5_000),
            (codes::INPATIENT_CONSULTATION, 2_000),
            (codes::NURSING, 3_000),
        ] {
            e.items.push(ClaimItem {
                code: code.into(),
                quantity: q,
                unit_price: Fen(price),
                amount: Fen(price * i64::from(q)),
                days_supply: 0,
            });
        }
        let drugs = Fen(50_000 + self.rng.below(500_000) as i64);
        e.items.push(ClaimItem {
            code: (*self.pick(&codes::ACUTE_DRUGS)).into(),
            quantity: 1,
            unit_price: drugs,
            amount: drugs,
            days_supply: 0,
        });
    }

    /// An outpatient visit: a blood count and 3 days of an acute drug.
    fn outpatient_visit(&mut self, e: &mut ClaimEvent) {
        e.kind = ClaimKind::Outpatient;
        e.institution = self.hospital();
        e.principal_diagnosis = Some((*self.pick(&codes::OUTPATIENT_DIAGNOSES)).into());
        e.items.push(ClaimItem {
            code: codes::BLOOD_COUNT.into(),
            quantity: 1,
            unit_price: Fen(2_500),
            amount: Fen(2_500),
            days_supply: 0,
        });
        let unit = Fen(300 + self.rng.below(2_000) as i64);
        e.items.push(ClaimItem {
            code: (*self.pick(&codes::ACUTE_DRUGS)).into(),
            quantity: 3,
            unit_price: unit,
            amount: Fen(unit.0 * 3),
            days_supply: 3,
        });
    }

    /// A pharmacy sale: 5 days of an acute drug.
    fn pharmacy_sale(&mut self, e: &mut ClaimEvent) {
        e.kind = ClaimKind::Pharmacy;
        e.institution = self.pharmacy();
        let unit = Fen(200 + self.rng.below(1_500) as i64);
        e.items.push(ClaimItem {
            code: (*self.pick(&codes::ACUTE_DRUGS)).into(),
            quantity: 5,
            unit_price: unit,
            amount: Fen(unit.0 * 5),
            days_supply: 5,
        });
    }
}

impl Iterator for SyntheticStream {
    type Item = SupervisionEvent;

    fn next(&mut self) -> Option<SupervisionEvent> {
        while self.today.is_empty() {
            let (day, mut persons) = self.agenda.pop_first()?;
            persons.reverse();
            self.today = persons;
            self.day = day;
            self.seq_in_day = 0;
        }
        let idx = self.today.pop()?;
        let day = self.day;
        let (event, next) = self.claim(idx, day);
        self.agenda.entry(next).or_default().push(idx);
        Some(SupervisionEvent::Claim(event))
    }
}
