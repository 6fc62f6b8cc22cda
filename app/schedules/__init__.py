"""Who is on call: rotations, coverage and allowances (pure), and schedules in the database.

rosters.py reads schedules onto the pure model; store.py, overrides.py and open_slots.py change
them; whos_on.py, client_coverage.py, allowance_report.py, ical.py, gap_watch.py and home.py
answer the screens, the intake, payroll, calendars, managers and the home screen."""
