package cib

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FormatTimestamp writes t in an alert's timestamp-format: date(1)'s
// strftime specifiers, with Pacemaker's extension %xN, the fraction of the
// second in x digits (1-6, truncated, no decimal point; %N alone is 6).
// "" is DefaultTimestampFormat. A specifier it does not know is an error,
// so a typo is refused when the alert is configured rather than sent.
func FormatTimestamp(format string, t time.Time) (string, error) {
	if format == "" {
		format = DefaultTimestampFormat
	}
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(format) && format[j] >= '0' && format[j] <= '9' {
			j++
		}
		if j >= len(format) {
			return "", fmt.Errorf("%q ends inside a specifier (write %%%% for a percent sign)", format)
		}
		width, spec := format[i+1:j], format[j]
		if width != "" && spec != 'N' {
			return "", fmt.Errorf("%q: a width is only taken by %%N (as in %%6N), not by %%%s%c", format, width, spec)
		}
		if spec == 'N' {
			digits := 6
			if width != "" {
				digits, _ = strconv.Atoi(width)
				if digits < 1 || digits > 6 {
					return "", fmt.Errorf("%q: %%%sN: the fraction of a second has 1 to 6 digits", format, width)
				}
			}
			b.WriteString(fmt.Sprintf("%06d", t.Nanosecond()/1000)[:digits])
			i = j
			continue
		}
		s, ok := strftime(spec, t)
		if !ok {
			return "", fmt.Errorf("%q: unknown specifier %%%c (known: %%a %%A %%b %%B %%c %%C %%d %%D %%e %%F %%G %%h %%H %%I %%j %%k %%l %%m %%M %%n %%N %%p %%P %%r %%R %%s %%S %%t %%T %%u %%V %%w %%y %%Y %%z %%Z %%%%)", format, spec)
		}
		b.WriteString(s)
		i = j
	}
	return b.String(), nil
}

func strftime(spec byte, t time.Time) (string, bool) {
	two := func(n int) string { return fmt.Sprintf("%02d", n) }
	switch spec {
	case 'a':
		return t.Format("Mon"), true
	case 'A':
		return t.Format("Monday"), true
	case 'b', 'h':
		return t.Format("Jan"), true
	case 'B':
		return t.Format("January"), true
	case 'c':
		return t.Format("Mon Jan _2 15:04:05 2006"), true
	case 'C':
		return two(t.Year() / 100), true
	case 'd':
		return two(t.Day()), true
	case 'D':
		return t.Format("01/02/06"), true
	case 'e':
		return fmt.Sprintf("%2d", t.Day()), true
	case 'F':
		return t.Format("2006-01-02"), true
	case 'G':
		y, _ := t.ISOWeek()
		return strconv.Itoa(y), true
	case 'H':
		return two(t.Hour()), true
	case 'I':
		return t.Format("03"), true
	case 'j':
		return fmt.Sprintf("%03d", t.YearDay()), true
	case 'k':
		return fmt.Sprintf("%2d", t.Hour()), true
	case 'l':
		return t.Format("_3"), true
	case 'm':
		return two(int(t.Month())), true
	case 'M':
		return two(t.Minute()), true
	case 'n':
		return "\n", true
	case 'p':
		return t.Format("PM"), true
	case 'P':
		return t.Format("pm"), true
	case 'r':
		return t.Format("03:04:05 PM"), true
	case 'R':
		return t.Format("15:04"), true
	case 's':
		return strconv.FormatInt(t.Unix(), 10), true
	case 'S':
		return two(t.Second()), true
	case 't':
		return "\t", true
	case 'T':
		return t.Format("15:04:05"), true
	case 'u':
		wd := int(t.Weekday())
		if wd == 0 {
			wd = 7
		}
		return strconv.Itoa(wd), true
	case 'V':
		_, w := t.ISOWeek()
		return two(w), true
	case 'w':
		return strconv.Itoa(int(t.Weekday())), true
	case 'y':
		return two(t.Year() % 100), true
	case 'Y':
		return strconv.Itoa(t.Year()), true
	case 'z':
		return t.Format("-0700"), true
	case 'Z':
		return t.Format("MST"), true
	case '%':
		return "%", true
	}
	return "", false
}
