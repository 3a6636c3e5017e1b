// Package cpgtest is a test kit for code that uses actorcpg.
package cpgtest
