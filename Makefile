# MedForge: build / test / run orchestration. The real work lives in scripts/.
.DEFAULT_GOAL := help
.PHONY: help run test build format clean

help:
	@echo "MedForge targets:"
	@echo "  make run     install deps, build release, run API, worker, web and Caddy on"
	@echo "               http://medforge.localhost:8080 (Ctrl-C stops all)"
	@echo "  make test    every CI stage (format, builds, unit, integration on SQLite and"
	@echo "               MariaDB, ASan/UBSan, TSan, clang-tidy) and a summary"
	@echo "               (STAGES=\"unit integration-sqlite\" to pick stages, SKIP_SETUP=1)"
	@echo "  make build   install deps and build build/release"
	@echo "  make format  clang-format the C++ sources in place"
	@echo "  make clean   remove build/"

run:
	scripts/run.sh

test:
	scripts/test.sh

build:
	scripts/setup-deps.sh
	scripts/build.sh release

format:
	scripts/format.sh

clean:
	rm -rf build
