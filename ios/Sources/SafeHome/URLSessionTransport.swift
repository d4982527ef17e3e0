import Foundation
import SafeHomeCore

/// The core's HTTP transport on `URLSession`. The core decides what to send, signs it and reads
/// the answer; this type only moves bytes. Every HTTP response, whatever its status, goes back
/// through the `HttpResponseSink`; only "no response at all" throws, and the core retries those
/// later. `send` is called from the thread running `ProfileSession.sync` (never the main
/// thread), so it may block on the request with a semaphore.
public final class URLSessionTransport: HttpTransport, @unchecked Sendable {
    private let session: URLSession

    public init(timeout: TimeInterval = 30) {
        let config = URLSessionConfiguration.ephemeral  // no cookies, no cache on disk
        config.timeoutIntervalForRequest = timeout
        config.waitsForConnectivity = false
        config.urlCache = nil
        session = URLSession(configuration: config)
    }

    public func send(request: HttpRequest, response: HttpResponseSink) throws {
        guard let url = URL(string: request.url) else {
            throw TransportException.Connect(reason: "not a URL")
        }
        var r = URLRequest(url: url)
        r.httpMethod = request.method
        for h in request.headers { r.setValue(h.value, forHTTPHeaderField: h.name) }
        if !request.body.isEmpty { r.httpBody = request.body }

        let done = DispatchSemaphore(value: 0)
        var result: Result<(HTTPURLResponse, Data), Error>?
        let task = session.dataTask(with: r) { data, resp, error in
            if let http = resp as? HTTPURLResponse, error == nil {
                result = .success((http, data ?? Data()))
            } else {
                result = .failure(error ?? URLError(.badServerResponse))
            }
            done.signal()
        }
        task.resume()
        done.wait()

        switch result {
        case .success(let (http, data)):
            response.setStatus(status: Int32(http.statusCode))
            for (name, value) in http.allHeaderFields {
                response.addHeader(name: "\(name)", value: "\(value)")
            }
            if !data.isEmpty { try response.appendBody(chunk: data) }
        case .failure(let error as URLError):
            switch error.code {
            case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
                 .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot:
                throw TransportException.Tls(reason: "\(error.code.rawValue)")
            case .cannotConnectToHost, .cannotFindHost, .notConnectedToInternet, .dnsLookupFailed:
                throw TransportException.Connect(reason: "\(error.code.rawValue)")
            default:
                throw TransportException.Interrupted(reason: "\(error.code.rawValue)")
            }
        case .failure(let error):
            throw TransportException.Interrupted(reason: String(describing: type(of: error)))
        case .none:
            throw TransportException.Interrupted(reason: "no result")
        }
    }
}
