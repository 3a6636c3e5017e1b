package actors

import (
	"fmt"
	"strconv"
)

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

func typeName(m any) string { return fmt.Sprintf("%T", m) }
