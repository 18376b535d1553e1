// Command hello prints its first argument: the program TestGoBinary builds.
package main

import (
	"fmt"
	"os"
)

func main() { fmt.Println("hello", os.Args[1]) }
