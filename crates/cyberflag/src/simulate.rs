//! `cyberflag simulate`.

use anyhow::{Context, bail};
use cyberflag::cli::SimulateArgs;

pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let mut options = match &args.options {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            simulate::Options::from_toml(&text)?
        }
        None => simulate::Options::default(),
    };
    if let Some(seed) = args.seed {
        options.seed = seed;
    }
    if let Some(from) = args.from {
        options.from = from;
    }
    if let Some(to) = args.to {
        options.to = to;
        if options.today < to {
            options.today = to.succ_opt().unwrap_or(to);
        }
    }
    if let Some(rise) = &args.rise {
        let parts: Vec<&str> = rise.split(':').collect();
        let [force, from, factor] = parts[..] else {
            bail!("--rise takes FORCE:DATE:FACTOR, e.g. west-mercia:2016-04-01:1.87");
        };
        options.rise = Some(simulate::Rise {
            force: model::ForceId::lookup(force)?,
            from: from
                .parse()
                .with_context(|| format!("--rise date {from:?}"))?,
            factor: factor
                .parse()
                .with_context(|| format!("--rise factor {factor:?}"))?,
        });
    }
    options.all_crime |= args.all_crime;
    options.validate()?;
    let started = std::time::Instant::now();
    let summary = simulate::write_simulation(&options, &args.out)?;
    stderr_line!(
        "wrote {} files ({} rows, {} record versions of which {} re-sent, {} malformed rows) \
         for {} forces into {} in {:.1} s",
        summary.files,
        summary.rows,
        summary.record_versions,
        summary.resent_record_versions,
        summary.malformed_rows.values().sum::<u64>(),
        summary.forces.len(),
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    stderr_line!(
        "ground truth: {} crimes counted nationally ({}/ground-truth.csv); profiles in {}/profiles",
        summary.national.counted,
        args.out.display(),
        args.out.display()
    );
    Ok(())
}
