"""Who is on call: rotations, coverage hours and allowances as pure functions; schedules read from
and written to the database; overrides, open slots, the calendar feed, gap warnings, the home screen."""
