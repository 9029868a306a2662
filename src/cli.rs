//! The command line: the verbs and their flags (`args.rs`, clap derive), what was typed turned
//! into each verb's options (`options.rs`), Ctrl-C counting (`signals.rs`), and the dispatch
//! below, which hands each verb to its `cmd/<verb>.rs`. No measurement logic lives here.

mod args;
mod options;
mod signals;

pub use args::{
    CapacityArgs, Cli, CollectArgs, Command, CompareArgs, ConfigArgs, DemoArgs, K8sAction,
    LiveArgs, MergeArgs, QuickArgs, RenderArgs, RunArgs, ServeArgs, ValidateArgs,
};
pub use signals::wait_for_third_interrupt;

/// What `main` maps onto an exit code.
pub use crate::cmd::Exit;

use crate::cmd;
use crate::engine::progress::ProgressMode;
use signals::{first_interrupt, interrupts};

pub async fn dispatch(cli: Cli) -> anyhow::Result<Exit> {
    let progress = ProgressMode::detect(cli.quiet);
    match cli.command {
        Command::Demo(args) => cmd::demo::run(args.options(progress), interrupts()).await,
        Command::Run(args) => {
            let (scenario, opts) = args.options(progress)?;
            cmd::run::run(scenario, opts, interrupts()).await
        }
        Command::Capacity(args) => {
            let (scenario, opts) = args.options(progress)?;
            cmd::capacity::run(scenario, opts, interrupts()).await
        }
        Command::Validate(args) => {
            let (scenario, seed) = args.options()?;
            cmd::validate::run(&scenario, seed)
        }
        Command::Serve(args) => cmd::serve::run(args.options(), first_interrupt()).await,
        Command::Quick(args) => cmd::quick::run(args.options()?, interrupts()).await,
        Command::Report { dir } => cmd::report::run(&dir),
        Command::Merge(args) => cmd::merge::run(&args.options()),
        Command::K8s {
            action: K8sAction::Render(args),
        } => cmd::k8s::run(&args.options()),
        Command::Collect(args) => cmd::collect::run(args.options(progress), interrupts()).await,
        Command::Compare(args) => cmd::compare::run(&args.options()),
    }
}
