import CrosswindExperiment
import FuzzSupport

/// The experiment loader on any text, as an experiment and as a topology: it returns a model
/// or a list of `file:line:column: message` problems, never traps. A model it accepts passes
/// its own `validate()` (what the reader accepts, the Swift API accepts too). Topology paths
/// resolve against an empty directory, so the input cannot name the shipped files by accident.
@_cdecl("FuzzExperimentLoader_main")
public func entryPoint(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    var input = FuzzInput(data, size)
    let asTopology = input.bool()
    let text = String(decoding: input.rest(), as: UTF8.self)
    if asTopology {
        do {
            _ = try ExperimentLoader.parseTopology(yaml: text, file: "fuzz.yaml")
        } catch {
            fuzzCheck(!error.problems.isEmpty, "an error without problems")
        }
    } else {
        do {
            let experiment = try ExperimentLoader.parse(yaml: text, file: "fuzz.yaml", baseDirectory: "/nonexistent-crosswind-fuzz")
            do {
                try experiment.validate()
            } catch {
                fuzzCheck(false, "loaded, then validate() refused it: \(error)")
            }
        } catch {
            fuzzCheck(!error.problems.isEmpty, "an error without problems")
        }
    }
    return 0
}
