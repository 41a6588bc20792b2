-- 0009 calendars: named business calendars, provider-wide (C3.1.1; docs/calendar.md). Hours and
-- dates are rows; src/domain/calendar_store.c rebuilds the in-memory calendar (calendar.h) from them.
-- The migration itself creates kefu's default calendar with the fixed id 1: "中国大陆标准工作时间",
-- Asia/Shanghai, Mon–Fri 09:00–12:00 and 13:00–18:00, the State Council's 2026 arrangement.
-- Ids made by kefu are time-ordered from 2020, so they never meet id 1.

CREATE TABLE calendars (
    id {{int64}} PRIMARY KEY,
    name TEXT NOT NULL,
    zone TEXT NOT NULL,                    -- IANA id
    created {{int64}} NOT NULL,
    updated {{int64}} NOT NULL
) {{strict}};
CREATE UNIQUE INDEX calendars_name ON calendars (name);

-- One row per period [start_minute, end_minute) of local time. weekday 1 = Monday … 7 = Sunday;
-- weekday 0 is the make-up day (调休) pattern: without such rows a make-up day has Monday's hours.
CREATE TABLE calendar_hours (
    calendar_id {{int64}} NOT NULL REFERENCES calendars (id),
    weekday {{int64}} NOT NULL CHECK (weekday BETWEEN 0 AND 7),
    start_minute {{int64}} NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
    end_minute {{int64}} NOT NULL CHECK (end_minute BETWEEN 1 AND 1440),
    CHECK (start_minute < end_minute),
    PRIMARY KEY (calendar_id, weekday, start_minute)
) {{strict}};

-- Holidays (off) and make-up working days (work), one row per local date.
CREATE TABLE calendar_dates (
    calendar_id {{int64}} NOT NULL REFERENCES calendars (id),
    day TEXT NOT NULL,                     -- YYYY-MM-DD
    kind TEXT NOT NULL CHECK (kind IN ('off', 'work')),
    label TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (calendar_id, day)
) {{strict}};

-- Years whose arrangement is present (calendar_has_year): the warning from November on asks here.
CREATE TABLE calendar_years (
    calendar_id {{int64}} NOT NULL REFERENCES calendars (id),
    year {{int64}} NOT NULL,
    PRIMARY KEY (calendar_id, year)
) {{strict}};

-- 2026-01-01T00:00:00Z
INSERT INTO calendars (id, name, zone, created, updated)
VALUES (1, '中国大陆标准工作时间', 'Asia/Shanghai', 1767225600000, 1767225600000);
INSERT INTO calendar_hours (calendar_id, weekday, start_minute, end_minute) VALUES
    (1, 1, 540, 720),
    (1, 1, 780, 1080),
    (1, 2, 540, 720),
    (1, 2, 780, 1080),
    (1, 3, 540, 720),
    (1, 3, 780, 1080),
    (1, 4, 540, 720),
    (1, 4, 780, 1080),
    (1, 5, 540, 720),
    (1, 5, 780, 1080);
INSERT INTO calendar_years (calendar_id, year) VALUES (1, 2026);
INSERT INTO calendar_dates (calendar_id, day, kind, label) VALUES
    (1, '2026-01-01', 'off', '元旦'),
    (1, '2026-01-02', 'off', '元旦'),
    (1, '2026-01-03', 'off', '元旦'),
    (1, '2026-01-04', 'work', '元旦调休(周日上班)'),
    (1, '2026-02-14', 'work', '春节调休(周六上班)'),
    (1, '2026-02-15', 'off', '春节'),
    (1, '2026-02-16', 'off', '春节'),
    (1, '2026-02-17', 'off', '春节'),
    (1, '2026-02-18', 'off', '春节'),
    (1, '2026-02-19', 'off', '春节'),
    (1, '2026-02-20', 'off', '春节'),
    (1, '2026-02-21', 'off', '春节'),
    (1, '2026-02-22', 'off', '春节'),
    (1, '2026-02-23', 'off', '春节'),
    (1, '2026-02-28', 'work', '春节调休(周六上班)'),
    (1, '2026-04-04', 'off', '清明节'),
    (1, '2026-04-05', 'off', '清明节'),
    (1, '2026-04-06', 'off', '清明节'),
    (1, '2026-05-01', 'off', '劳动节'),
    (1, '2026-05-02', 'off', '劳动节'),
    (1, '2026-05-03', 'off', '劳动节'),
    (1, '2026-05-04', 'off', '劳动节'),
    (1, '2026-05-05', 'off', '劳动节'),
    (1, '2026-05-09', 'work', '劳动节调休(周六上班)'),
    (1, '2026-06-19', 'off', '端午节'),
    (1, '2026-06-20', 'off', '端午节'),
    (1, '2026-06-21', 'off', '端午节'),
    (1, '2026-09-20', 'work', '国庆节调休(周日上班)'),
    (1, '2026-09-25', 'off', '中秋节'),
    (1, '2026-09-26', 'off', '中秋节'),
    (1, '2026-09-27', 'off', '中秋节'),
    (1, '2026-10-01', 'off', '国庆节'),
    (1, '2026-10-02', 'off', '国庆节'),
    (1, '2026-10-03', 'off', '国庆节'),
    (1, '2026-10-04', 'off', '国庆节'),
    (1, '2026-10-05', 'off', '国庆节'),
    (1, '2026-10-06', 'off', '国庆节'),
    (1, '2026-10-07', 'off', '国庆节'),
    (1, '2026-10-10', 'work', '国庆节调休(周六上班)');
