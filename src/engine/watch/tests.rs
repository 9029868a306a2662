use super::no_start_outcome;
use crate::metrics::ViewerOutcome;

#[test]
fn only_a_viewer_that_had_its_chance_counts_as_leaving_before_the_start() {
    assert_eq!(
        no_start_outcome(false, false, false),
        ViewerOutcome::ExitBeforeStart
    );
    assert_eq!(
        no_start_outcome(true, false, false),
        ViewerOutcome::VideoStartFailed
    );
    // Failing when the run's end came: it was not going to start.
    assert_eq!(
        no_start_outcome(true, true, false),
        ViewerOutcome::VideoStartFailed
    );
    // Cut off by the end of the run: not the viewer's choice, and not judged.
    assert_eq!(
        no_start_outcome(false, true, false),
        ViewerOutcome::CutBeforeStart
    );
    // Started by an overloaded generator after its visit should have ended: the generator's
    // lag says so; counting it as the viewer giving up would blame the target.
    assert_eq!(
        no_start_outcome(false, false, true),
        ViewerOutcome::StartedLate
    );
}
