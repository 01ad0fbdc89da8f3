/* _calendar_speedups: the due-time hot path of BusinessCalendar.add_micros in C.
 *
 * Why C: in CPython, converting an aware datetime to epoch microseconds and back
 * (datetime.timestamp() and datetime.fromtimestamp(s, zone)) costs about 1.2 us on the
 * 2-core machines we measure on, more than half of a due-time computation; here the
 * fields are read directly and one datetime is made. The arithmetic is the same as the
 * pure-Python path in calendar.py (which stays the reference and the fallback, and which
 * the tests compare this against): two binary searches over the calendar's sorted
 * open intervals with a running total of open time.
 *
 * add_micros(table, start, micros) -> datetime | None
 *   table  = (starts, ends, cum_start, cum_end, range_start_us, range_end_us, zone), the
 *            lists of ints BusinessCalendar keeps; zone is a tzinfo (a ZoneInfo).
 *   start  = an aware datetime; micros > 0.
 *   Returns the due time as an aware datetime in `zone`, or None where the fast path does
 *   not apply (naive start, start or result outside the expanded years, odd input); the
 *   caller then takes the pure-Python path, which also raises the errors.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>

#define US_PER_SECOND 1000000LL
static PyObject *name_utcoffset, *name_fromutc;  /* interned method names */
#define SECONDS_PER_DAY 86400LL
#define MAX_MICROS (1LL << 60)

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static long long
days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const long long era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

/* The date of a day number since 1970-01-01 (civil_from_days). */
static void
civil_from_days(long long z, int *year, int *month, int *day)
{
    z += 719468;
    const long long era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const long long y = (long long)yoe + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    *year = (int)(y + (m <= 2));
    *month = (int)m;
    *day = (int)d;
}

/* Item i of a list of ints; -1 with an exception set on a non-int. */
static inline long long
item(PyObject *list, Py_ssize_t i, int *failed)
{
    long long value = PyLong_AsLongLong(PyList_GET_ITEM(list, i));
    if (value == -1 && PyErr_Occurred()) {
        *failed = 1;
    }
    return value;
}

static PyObject *
add_micros(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "add_micros(table, start, micros)");
        return NULL;
    }
    PyObject *table = args[0], *start = args[1];
    long long micros = PyLong_AsLongLong(args[2]);
    if (micros == -1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
            return NULL;
        }
        PyErr_Clear();  /* beyond 64 bits: Python's ints take it */
        Py_RETURN_NONE;
    }
    if (!PyTuple_Check(table) || PyTuple_GET_SIZE(table) != 7) {
        PyErr_SetString(PyExc_TypeError, "table must be a 7-tuple");
        return NULL;
    }
    PyObject *starts = PyTuple_GET_ITEM(table, 0), *ends = PyTuple_GET_ITEM(table, 1);
    PyObject *cum_start = PyTuple_GET_ITEM(table, 2), *cum_end = PyTuple_GET_ITEM(table, 3);
    PyObject *zone = PyTuple_GET_ITEM(table, 6);
    if (!PyList_Check(starts) || !PyList_Check(ends) || !PyList_Check(cum_start)
            || !PyList_Check(cum_end)) {
        PyErr_SetString(PyExc_TypeError, "table lists must be lists");
        return NULL;
    }
    /* Durations beyond a few thousand years would overflow the sums below. */
    if (micros <= 0 || micros > MAX_MICROS || !PyDateTime_Check(start)) {
        Py_RETURN_NONE;
    }
    PyObject *tzinfo = PyDateTime_DATE_GET_TZINFO(start);
    if (tzinfo == Py_None) {
        Py_RETURN_NONE;
    }

    /* The start as epoch microseconds: its fields minus its UTC offset (which honours
       fold for a repeated wall-clock hour, as datetime.timestamp() does). */
    PyObject *offset = PyObject_CallMethodOneArg(tzinfo, name_utcoffset, start);
    if (offset == NULL) {
        return NULL;
    }
    if (!PyDelta_Check(offset)) {
        Py_DECREF(offset);
        Py_RETURN_NONE;
    }
    long long offset_us = ((long long)PyDateTime_DELTA_GET_DAYS(offset) * SECONDS_PER_DAY
                           + PyDateTime_DELTA_GET_SECONDS(offset)) * US_PER_SECOND
                          + PyDateTime_DELTA_GET_MICROSECONDS(offset);
    Py_DECREF(offset);
    if (offset_us <= -SECONDS_PER_DAY * US_PER_SECOND
            || offset_us >= SECONDS_PER_DAY * US_PER_SECOND) {
        Py_RETURN_NONE;  /* not a valid UTC offset: Python raises the error */
    }
    long long days = days_from_civil(PyDateTime_GET_YEAR(start),
                                     (unsigned)PyDateTime_GET_MONTH(start),
                                     (unsigned)PyDateTime_GET_DAY(start));
    long long start_us = (days * SECONDS_PER_DAY + PyDateTime_DATE_GET_HOUR(start) * 3600LL
                          + PyDateTime_DATE_GET_MINUTE(start) * 60LL
                          + PyDateTime_DATE_GET_SECOND(start)) * US_PER_SECOND
                         + PyDateTime_DATE_GET_MICROSECOND(start) - offset_us;

    int failed = 0;
    long long range_start = PyLong_AsLongLong(PyTuple_GET_ITEM(table, 4));
    long long range_end = PyLong_AsLongLong(PyTuple_GET_ITEM(table, 5));
    if (PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(starts);
    if (n == 0 || PyList_GET_SIZE(ends) != n || PyList_GET_SIZE(cum_start) != n
            || PyList_GET_SIZE(cum_end) != n || start_us < range_start
            || start_us >= range_end) {
        Py_RETURN_NONE;
    }

    /* index = bisect_right(starts, start_us) - 1 */
    Py_ssize_t lo = 0, hi = n;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (start_us < item(starts, mid, &failed)) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Py_ssize_t index = lo - 1;
    long long position;
    if (index < 0) {
        position = micros;
    } else if (start_us < item(ends, index, &failed)) {
        position = item(cum_start, index, &failed) + start_us - item(starts, index, &failed)
                   + micros;
    } else {
        position = item(cum_end, index, &failed) + micros;
    }
    if (failed) {
        return NULL;
    }
    if (position > item(cum_end, n - 1, &failed)) {
        if (failed) {
            return NULL;
        }
        Py_RETURN_NONE;  /* beyond the expanded years: the Python path grows them */
    }

    /* found = bisect_left(cum_end, position, max(index, 0)) */
    lo = index > 0 ? index : 0;
    hi = n;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (item(cum_end, mid, &failed) < position) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    long long due_us = item(ends, lo, &failed) - (item(cum_end, lo, &failed) - position);
    if (failed) {
        return NULL;
    }

    /* The due instant as a UTC wall clock tagged with the zone, then zone.fromutc(). */
    long long seconds = due_us / US_PER_SECOND, micro = due_us % US_PER_SECOND;
    if (micro < 0) {
        micro += US_PER_SECOND;
        seconds -= 1;
    }
    long long day_number = seconds / SECONDS_PER_DAY, second_of_day = seconds % SECONDS_PER_DAY;
    if (second_of_day < 0) {
        second_of_day += SECONDS_PER_DAY;
        day_number -= 1;
    }
    int year, month, day;
    civil_from_days(day_number, &year, &month, &day);
    if (year < 1 || year > 9999) {
        Py_RETURN_NONE;
    }
    PyObject *utc_wall = PyDateTimeAPI->DateTime_FromDateAndTime(
        year, month, day, (int)(second_of_day / 3600), (int)(second_of_day / 60 % 60),
        (int)(second_of_day % 60), (int)micro, zone, PyDateTimeAPI->DateTimeType);
    if (utc_wall == NULL) {
        return NULL;
    }
    PyObject *due = PyObject_CallMethodOneArg(zone, name_fromutc, utc_wall);
    Py_DECREF(utc_wall);
    return due;
}

static PyMethodDef methods[] = {
    {"add_micros", (PyCFunction)(void (*)(void))add_micros, METH_FASTCALL,
     "add_micros(table, start, micros) -> datetime | None: the due-time fast path."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_calendar_speedups",
    "The due-time hot path of BusinessCalendar in C (see calendar.py for the reference).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__calendar_speedups(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) {
        return NULL;
    }
    name_utcoffset = PyUnicode_InternFromString("utcoffset");
    name_fromutc = PyUnicode_InternFromString("fromutc");
    if (name_utcoffset == NULL || name_fromutc == NULL) {
        return NULL;
    }
    return PyModule_Create(&module_def);
}
