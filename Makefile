# make test  — every test, with the services they need (PostgreSQL) installed
#              and started on loopback. This is what CI runs.
# make demo  — the product with seeded data, no accounts needed.
# make agent — bin/countersign-agent.exe (windows/amd64) and its MSI; signed
#              when COUNTERSIGN_SIGN_PFX names a certificate (scripts/build-agent.sh).
.PHONY: test demo build bench agent

test:
	./scripts/test.sh

demo:
	go run ./cmd/countersign demo

build:
	go build -o bin/countersign ./cmd/countersign

bench:
	./scripts/test.sh -run '^$$' -bench . -benchtime 2s

agent:
	./scripts/build-agent.sh $(VERSION)
