//! `cyberflag alerts backtest`: one detector over one weekly series, for analysts.

use anyhow::{Context, bail};
use chrono::NaiveDate;
use cyberflag::cli::{BacktestArgs, Format, Method};
use detect::{AlarmRow, Series};

/// Reads `date,count` rows.
fn read_series(args: &BacktestArgs) -> anyhow::Result<Series> {
    let path = &args.input;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, header)) if header.trim().trim_start_matches('\u{feff}') == "date,count" => {}
        _ => bail!(
            "{}: the first line must be the header `date,count`",
            path.display()
        ),
    }
    let mut points = Vec::new();
    for (index, line) in lines {
        let line_number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let (date, count) = line
            .split_once(',')
            .with_context(|| format!("{}:{line_number}: expected `date,count`", path.display()))?;
        let date: NaiveDate = date.trim().parse().with_context(|| {
            format!(
                "{}:{line_number}: {date:?} is not an ISO date",
                path.display()
            )
        })?;
        let count = match count.trim() {
            "" | "NA" => None,
            text => Some(text.parse::<i64>().with_context(|| {
                format!(
                    "{}:{line_number}: {text:?} is not a whole number",
                    path.display()
                )
            })?),
        };
        points.push((date, count));
    }
    Series::weekly_from_dated(&points)
        .map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))
}

/// `FROM:TO` (inclusive dates) to a half-open index range.
fn range(series: &Series, text: Option<&str>) -> anyhow::Result<Option<std::ops::Range<usize>>> {
    let Some(text) = text else { return Ok(None) };
    let (from, to) = text.split_once(':').context("--range takes FROM:TO")?;
    let index = |date: &str| -> anyhow::Result<usize> {
        let date: NaiveDate = date
            .trim()
            .parse()
            .with_context(|| format!("--range: {date:?} is not a date"))?;
        series
            .index_of(date)
            .with_context(|| format!("--range: {date} is not a week of the input"))
    };
    let (from, to) = (index(from)?, index(to)?);
    if from > to {
        bail!("--range: FROM is after TO");
    }
    Ok(Some(from..to + 1))
}

fn powertrans(text: &str) -> anyhow::Result<detect::PowerTransform> {
    Ok(match text {
        "2/3" => detect::PowerTransform::TwoThirds,
        "1/2" => detect::PowerTransform::Half,
        "none" => detect::PowerTransform::None,
        other => bail!("--powertrans {other:?}: expected 2/3, 1/2 or none"),
    })
}

fn limit54(text: &str) -> anyhow::Result<(u64, usize)> {
    let (cases, periods) = text
        .split_once(',')
        .context("--limit54 takes CASES,PERIODS")?;
    Ok((cases.trim().parse()?, periods.trim().parse()?))
}

pub fn backtest(args: BacktestArgs) -> anyhow::Result<()> {
    let series = read_series(&args)?;
    let range = range(&series, args.range.as_deref())?;
    let rows: Vec<AlarmRow> = match args.method {
        Method::FarringtonFlexible => {
            let mut control = detect::FarringtonFlexibleControl {
                range,
                ..Default::default()
            };
            if let Some(b) = args.b {
                control.b = b;
            }
            if let Some(w) = args.w {
                control.w = w;
            }
            if let Some(alpha) = args.alpha {
                control.alpha = alpha;
            }
            if let Some(reweight) = args.reweight {
                control.reweight = reweight;
            }
            if let Some(t) = args.weights_threshold {
                control.weights_threshold = t;
            }
            if let Some(trend) = args.trend {
                control.trend = trend;
            }
            if let Some(p) = args.p_threshold_trend {
                control.p_threshold_trend = p;
            }
            if let Some(l) = &args.limit54 {
                control.limit54 = limit54(l)?;
            }
            if let Some(p) = &args.powertrans {
                control.powertrans = powertrans(p)?;
            }
            if let Some(p) = args.past_weeks_not_included {
                control.past_weeks_not_included = Some(p);
            }
            if let Some(n) = args.no_periods {
                control.no_periods = n;
            }
            if let Some(method) = &args.threshold_method {
                control.threshold_method = match method.as_str() {
                    "delta" => detect::ThresholdMethod::Delta,
                    "nbPlugin" => detect::ThresholdMethod::NbPlugin,
                    "muan" => detect::ThresholdMethod::Muan,
                    other => {
                        bail!("--threshold-method {other:?}: expected delta, nbPlugin or muan")
                    }
                };
            }
            detect::farrington_flexible(&series, &control)?
        }
        Method::Farrington => {
            let mut control = detect::FarringtonControl {
                range,
                ..Default::default()
            };
            if let Some(b) = args.b {
                control.b = b;
            }
            if let Some(w) = args.w {
                control.w = w;
            }
            if let Some(alpha) = args.alpha {
                control.alpha = alpha;
            }
            if let Some(reweight) = args.reweight {
                control.reweight = reweight;
            }
            if let Some(trend) = args.trend {
                control.trend = trend;
            }
            if let Some(l) = &args.limit54 {
                control.limit54 = limit54(l)?;
            }
            if let Some(p) = &args.powertrans {
                control.powertrans = powertrans(p)?;
            }
            // Reference weeks lie b years back (± w): refuse, rather than print weeks without a
            // threshold, when the input does not reach that far.
            let needed = control.b * 52 + control.w;
            if let Some(first) = control.range.as_ref().map(|r| r.start)
                && first < needed
            {
                bail!(
                    "too little history: farrington with b={} and w={} needs {needed} weeks before                      the first monitored week, the input has {first}; decrease --b or move --range later",
                    control.b,
                    control.w
                );
            }
            detect::farrington(&series, &control)?
        }
        Method::EarsC1 | Method::EarsC2 | Method::EarsC3 => {
            let method = match args.method {
                Method::EarsC1 => detect::EarsMethod::C1,
                Method::EarsC2 => detect::EarsMethod::C2,
                _ => detect::EarsMethod::C3,
            };
            let mut control = detect::EarsControl {
                range,
                method,
                ..Default::default()
            };
            if let Some(baseline) = args.baseline {
                control.baseline = baseline;
            }
            if let Some(sigma) = args.min_sigma {
                control.min_sigma = sigma;
            }
            if args.alpha.is_some() {
                control.alpha = args.alpha;
            }
            control.c3_r_compatible = args.r_compatible;
            detect::ears(&series, &control)?
        }
        Method::Bayes => {
            let mut control = detect::BayesControl {
                range,
                ..Default::default()
            };
            if let Some(b) = args.b {
                control.b = b;
            }
            if let Some(w) = args.w {
                control.w = w;
            }
            if let Some(alpha) = args.alpha {
                control.alpha = alpha;
            }
            if let Some(act_y) = args.act_y {
                control.act_y = act_y;
            }
            detect::bayes(&series, &control)?
        }
        Method::Cusum => {
            let range = range.context("cusum needs --range (R has no default)")?;
            let mut control = detect::CusumControl {
                range: Some(range),
                ..Default::default()
            };
            if let Some(k) = args.k {
                control.k = k;
            }
            if let Some(h) = args.h {
                control.h = h;
            }
            if let Some(m) = &args.m {
                control.m = match m.as_str() {
                    "glm" => detect::CusumMean::HarmonicGlm,
                    number => detect::CusumMean::Fixed(
                        number
                            .parse()
                            .with_context(|| format!("--m {number:?}: a number or glm"))?,
                    ),
                };
            }
            detect::cusum(&series, &control)?
        }
        Method::Glrnb => {
            let range = range.context("glrnb needs --range (R has no default)")?;
            let mut control = detect::GlrnbControl {
                range: Some(range),
                ..Default::default()
            };
            if let Some(c) = args.c_arl {
                control.c_arl = c;
            }
            if let Some(alpha) = args.alpha {
                control.alpha = alpha;
            }
            if args.theta.is_some() {
                control.theta = args.theta;
            }
            if args.glr_window.is_some() {
                control.window = args.glr_window;
            }
            detect::glrnb(&series, &control)?
        }
    };
    let number = |value: Option<f64>| value.map(|v| format!("{v:.6}")).unwrap_or_default();
    match args.format {
        Format::Csv | Format::Table => {
            crate::out!("date,observed,expected,upperbound,alarm,score");
            for row in &rows {
                let date = row
                    .date
                    .or_else(|| series.date(row.index))
                    .map(|d| d.to_string())
                    .unwrap_or_default();
                crate::out!(
                    "{date},{},{},{},{},{}",
                    row.observed.map(|o| o.to_string()).unwrap_or_default(),
                    number(row.expected),
                    number(row.upperbound),
                    row.alarm,
                    number(row.score)
                );
            }
        }
        Format::Json => {
            let rows: Vec<serde_json::Value> = rows
                .iter()
                .map(|row| {
                    serde_json::json!({
                        "date": row.date.or_else(|| series.date(row.index)).map(|d| d.to_string()),
                        "observed": row.observed,
                        "expected": row.expected,
                        "upperbound": row.upperbound,
                        "alarm": row.alarm,
                        "score": row.score,
                    })
                })
                .collect();
            crate::out!("{}", serde_json::Value::Array(rows));
        }
    }
    let alarms = rows.iter().filter(|row| row.alarm).count();
    stderr_line!("{} monitored week(s), {alarms} alarm(s)", rows.len());
    Ok(())
}
