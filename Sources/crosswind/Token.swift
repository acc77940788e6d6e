import ArgumentParser
import CrosswindTransport
import Foundation

/// Where a token secret comes from: `--token-secret S` (visible to other users in the process
/// list) or `--token-secret-file PATH` (its content, without a final newline).
struct TokenSecretOptions: ParsableArguments {
    @Option(help: "Secret access tokens are signed with (HMAC-SHA256); prefer --token-secret-file, which other users cannot read in the process list.")
    var tokenSecret: String?
    @Option(help: ArgumentHelp("File holding the token secret (a final newline is ignored).", valueName: "file"))
    var tokenSecretFile: String?

    /// The secret, nil when neither option was given; exits 2 on a bad file or both options.
    func secret(command: String) throws -> String? {
        if self.tokenSecret != nil && self.tokenSecretFile != nil {
            printError("\(command): give --token-secret or --token-secret-file, not both")
            throw ExitCode(ExitStatus.invalidInput)
        }
        var secret = self.tokenSecret
        if let path = self.tokenSecretFile {
            guard let data = FileManager.default.contents(atPath: path) else {
                printError("\(command): cannot read the token secret file \(path)")
                throw ExitCode(ExitStatus.invalidInput)
            }
            secret = String(decoding: data, as: UTF8.self)
            while secret?.last == "\n" || secret?.last == "\r" { secret?.removeLast() }
        }
        if let secret, secret.utf8.count < 16 {
            printError("\(command): a token secret must have at least 16 bytes")
            throw ExitCode(ExitStatus.invalidInput)
        }
        return secret
    }
}

/// The wall clock in whole seconds since 1970, for token expiry.
func secondsSince1970() -> Int64 {
    Int64(Date().timeIntervalSince1970)
}

struct Token: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print an access token for a crosswind serve started with the same token secret.",
        discussion: "The token is a JWT signed with HMAC-SHA256 (HS256) whose claims are sub (--subject) and exp (now + --ttl seconds)."
    )

    @OptionGroup var secretOptions: TokenSecretOptions
    @Option(help: "The token's subject (sub).")
    var subject = "dashboard"
    @Option(help: "Seconds until the token expires.")
    var ttl = 3600

    func run() throws {
        guard let secret = try self.secretOptions.secret(command: "token") else {
            printError("token: --token-secret or --token-secret-file is required")
            throw ExitCode(ExitStatus.invalidInput)
        }
        guard self.ttl > 0 else {
            printError("token: --ttl must be positive")
            throw ExitCode(ExitStatus.invalidInput)
        }
        print(AccessTokens(secret: secret).sign(subject: self.subject, expiresAt: secondsSince1970() + Int64(self.ttl)))
    }
}
