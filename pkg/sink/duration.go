package sink

import (
	"fmt"
	"time"
)

// Outage says how long a check was down, to the two largest units ("45s",
// "12m 5s", "2h 3m", "3d 4h"): the Slack recovery and the Linear incident
// comment say the same thing the same way.
func Outage(down, up time.Time) string {
	d := max(up.Sub(down).Round(time.Second), 0)
	two := func(a int64, au string, b int64, bu string) string {
		if b == 0 {
			return fmt.Sprintf("%d%s", a, au)
		}
		return fmt.Sprintf("%d%s %d%s", a, au, b, bu)
	}
	s := int64(d / time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", s)
	case d < time.Hour:
		return two(s/60, "m", s%60, "s")
	case d < 24*time.Hour:
		return two(s/3600, "h", s%3600/60, "m")
	default:
		return two(s/86400, "d", s%86400/3600, "h")
	}
}
