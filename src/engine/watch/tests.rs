use super::no_start_outcome;
use crate::metrics::ErrorKind;

#[test]
fn only_a_viewer_that_had_its_chance_counts_as_leaving_before_the_start() {
    assert_eq!(
        no_start_outcome(false, false, false),
        Some(ErrorKind::ExitBeforeStart)
    );
    assert_eq!(
        no_start_outcome(true, false, true),
        Some(ErrorKind::VideoStartFailed)
    );
    // Cut off by the end of the run: not the viewer's choice.
    assert_eq!(no_start_outcome(false, true, false), None);
    // Started by an overloaded generator after its visit should have ended: the generator's
    // lag says so; counting it as the viewer giving up would blame the target.
    assert_eq!(no_start_outcome(false, false, true), None);
}
