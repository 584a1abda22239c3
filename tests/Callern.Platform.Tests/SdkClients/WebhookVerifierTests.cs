using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Callern.Sdk.Webhooks;
using Microsoft.Extensions.Time.Testing;

namespace Callern.Platform.Tests.SdkClients;

/// <summary>
/// The SDK's webhook verifier against requests signed here with HMACSHA256 directly (the Standard
/// Webhooks scheme written out, not the verifier's code), and against the scheme's published vector.
/// </summary>
public sealed class WebhookVerifierTests
{
    private const string Secret = "whsec_Y2FsbGVybi13ZWJob29rLXRlc3Qta2V5LW9uZQ==";
    private const string OtherSecret = "whsec_Y2FsbGVybi13ZWJob29rLXRlc3Qta2V5LXR3bw==";
    private const string Id = "0195d3a0-7c2e-7b4f-9a61-3f0e8c1d2b4a";
    private const long Now = 1_760_000_000;

    // Spaces and key order as a server might write them: the signature covers these exact bytes.
    private const string Body = """
        {"id":"0195d3a0-7c2e-7b4f-9a61-3f0e8c1d2b4a", "type":"call.ended","timestamp":"2025-10-09T08:53:20.123Z",
         "tenantId":"school-1","subject":"call:0195d39f-1111-7000-8000-000000000001","sequence":3,
         "data":{"reason":"hangup","billedSeconds":312}}
        """;

    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(Now));

    /// <summary>The <c>webhook-signature</c> entry for a request, computed from the scheme's definition.</summary>
    private static string Sign(string secret, string id, long timestamp, string body) =>
        "v1," + Convert.ToBase64String(HMACSHA256.HashData(
            Convert.FromBase64String(secret["whsec_".Length..]), Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}")));

    private WebhookVerifier Verifier(params string[] secrets) => new(secrets, time: _time);

    private static WebhookVerificationException Refused(Action verify) => Assert.Throws<WebhookVerificationException>(verify);

    [Fact]
    public void The_standard_webhooks_vector_passes_the_signature_check()
    {
        // The spec's vector is signed correctly but its body is no event envelope: invalid_body
        // (read only after the signature is accepted), where one wrong byte gives invalid_signature.
        const string body = """{"test": 2432232314}""";
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1614265330));
        var verifier = new WebhookVerifier(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], time: time);

        var signed = Refused(() => verifier.Verify(body, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
        var tampered = Refused(() => verifier.Verify(body.Replace('2', '3'), "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));

        Assert.Equal((WebhookVerificationException.InvalidBody, WebhookVerificationException.InvalidSignature), (signed.Code, tampered.Code));
    }

    [Fact]
    public void A_signed_event_verifies_and_reads_as_its_envelope()
    {
        var e = Verifier(Secret).Verify(Body, Id, Now.ToString(), Sign(Secret, Id, Now, Body));

        Assert.Equal(
            (Id, "call.ended", new DateTimeOffset(2025, 10, 9, 8, 53, 20, 123, TimeSpan.Zero), "school-1", "call:0195d39f-1111-7000-8000-000000000001", 3L),
            (e.Id, e.Type, e.Timestamp, e.TenantId, e.Subject, e.Sequence));
        Assert.Equal(("hangup", 312), (e.Data.GetProperty("reason").GetString(), e.Data.GetProperty("billedSeconds").GetInt32()));
    }

    [Fact]
    public void The_raw_bytes_and_a_case_insensitive_header_lookup_verify_the_same_event()
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["Webhook-Id"] = Id,
            ["Webhook-Timestamp"] = Now.ToString(),
            ["Webhook-Signature"] = Sign(Secret, Id, Now, Body),
        };
        var verifier = Verifier(Secret);

        var fromBytes = verifier.Verify(Encoding.UTF8.GetBytes(Body), headers.GetValueOrDefault);
        var fromText = verifier.Verify(Body, headers.GetValueOrDefault);

        Assert.Equal((Id, Id), (fromBytes.Id, fromText.Id));
    }

    [Fact]
    public void A_body_changed_after_signing_is_refused()
    {
        var signature = Sign(Secret, Id, Now, Body);

        var e = Refused(() => Verifier(Secret).Verify(Body.Replace("312", "3120"), Id, Now.ToString(), signature));

        Assert.Equal(WebhookVerificationException.InvalidSignature, e.Code);
    }

    [Fact]
    public void A_changed_id_or_timestamp_is_refused()
    {
        var signature = Sign(Secret, Id, Now, Body);
        var verifier = Verifier(Secret);

        var otherId = Refused(() => verifier.Verify(Body, "0195d3a0-7c2e-7b4f-9a61-3f0e8c1d2b4b", Now.ToString(), signature));
        var otherTime = Refused(() => verifier.Verify(Body, Id, (Now - 1).ToString(), signature));

        Assert.Equal((WebhookVerificationException.InvalidSignature, WebhookVerificationException.InvalidSignature), (otherId.Code, otherTime.Code));
    }

    [Fact]
    public void A_request_signed_with_another_secret_is_refused()
    {
        var e = Refused(() => Verifier(Secret).Verify(Body, Id, Now.ToString(), Sign(OtherSecret, Id, Now, Body)));

        Assert.Equal(WebhookVerificationException.InvalidSignature, e.Code);
    }

    [Fact]
    public void A_request_signed_longer_ago_than_the_tolerance_is_refused_and_one_at_the_tolerance_passes()
    {
        var verifier = new WebhookVerifier([Secret], TimeSpan.FromMinutes(2), _time);
        var edge = Now - 120;
        var old = Now - 121;

        var atEdge = verifier.Verify(Body, Id, edge.ToString(), Sign(Secret, Id, edge, Body));
        var e = Refused(() => verifier.Verify(Body, Id, old.ToString(), Sign(Secret, Id, old, Body)));

        Assert.Equal((Id, WebhookVerificationException.TimestampTooOld), (atEdge.Id, e.Code));
    }

    [Fact]
    public void A_replay_of_a_valid_request_is_refused_once_the_default_tolerance_has_passed()
    {
        var verifier = Verifier(Secret);
        var signature = Sign(Secret, Id, Now, Body);
        verifier.Verify(Body, Id, Now.ToString(), signature);

        _time.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));
        var e = Refused(() => verifier.Verify(Body, Id, Now.ToString(), signature));

        Assert.Equal(WebhookVerificationException.TimestampTooOld, e.Code);
    }

    [Fact]
    public void A_request_signed_in_the_future_beyond_the_tolerance_is_refused()
    {
        var later = Now + 301;

        var e = Refused(() => Verifier(Secret).Verify(Body, Id, later.ToString(), Sign(Secret, Id, later, Body)));

        Assert.Equal(WebhookVerificationException.TimestampInFuture, e.Code);
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("-1760000000")]
    [InlineData("1760000000.5")]
    [InlineData("99999999999999999999")]
    [InlineData(" 1760000000")]
    public void A_timestamp_that_is_not_unix_seconds_is_refused(string timestamp)
    {
        var e = Refused(() => Verifier(Secret).Verify(Body, Id, timestamp, Sign(Secret, Id, Now, Body)));

        Assert.Equal(WebhookVerificationException.InvalidTimestamp, e.Code);
    }

    [Theory]
    [InlineData("webhook-id", null)]
    [InlineData("webhook-timestamp", null)]
    [InlineData("webhook-signature", null)]
    [InlineData("webhook-id", "")]
    [InlineData("webhook-signature", " ")]
    public void A_missing_or_empty_header_is_refused(string header, string? value)
    {
        var headers = new Dictionary<string, string?>
        {
            ["webhook-id"] = Id,
            ["webhook-timestamp"] = Now.ToString(),
            ["webhook-signature"] = Sign(Secret, Id, Now, Body),
        };
        headers[header] = value;

        var e = Refused(() => Verifier(Secret).Verify(Body, headers.GetValueOrDefault));

        Assert.Equal(WebhookVerificationException.MissingHeader, e.Code);
    }

    [Fact]
    public void Entries_of_other_versions_are_ignored_beside_a_valid_v1_signature()
    {
        var valid = Sign(Secret, Id, Now, Body);
        var verifier = Verifier(Secret);

        var e = verifier.Verify(Body, Id, Now.ToString(), $"v1a,{valid[3..]} v2,AAAA v1,not-base64 {valid}");
        var onlyOtherVersions = Refused(() => verifier.Verify(Body, Id, Now.ToString(), $"v1a,{valid[3..]} v2,{valid[3..]}"));

        Assert.Equal((Id, WebhookVerificationException.InvalidSignature), (e.Id, onlyOtherVersions.Code));
    }

    [Fact]
    public void During_a_rotation_either_secret_verifies_and_either_of_two_signatures_matches()
    {
        var verifier = Verifier(Secret, OtherSecret);
        var byOld = Sign(Secret, Id, Now, Body);
        var byNew = Sign(OtherSecret, Id, Now, Body);

        var accepted = new[] { byOld, byNew, $"{byOld} {byNew}" }.Select(s => verifier.Verify(Body, Id, Now.ToString(), s).Id);
        var newOnly = Verifier(OtherSecret).Verify(Body, Id, Now.ToString(), $"{byOld} {byNew}");

        Assert.Equal([Id, Id, Id, Id], [.. accepted, newOnly.Id]);
    }

    [Theory]
    [InlineData("""not json""")]
    [InlineData("""[1, 2]""")]
    [InlineData("""{"id":"e1","type":"call.ended","timestamp":"2025-10-09T08:53:20Z","tenantId":"school-1","subject":"call:1","sequence":1}""")]
    [InlineData("""{"id":"e1","type":"call.ended","timestamp":"2025-10-09T08:53:20Z","tenantId":null,"subject":"call:1","sequence":1,"data":{}}""")]
    [InlineData("""{"id":"e1","type":"call.ended","timestamp":"yesterday","tenantId":"school-1","subject":"call:1","sequence":1,"data":{}}""")]
    [InlineData("""{"id":"e1","type":"call.ended","timestamp":"2025-10-09T08:53:20Z","tenantId":"school-1","subject":"call:1","sequence":0,"data":{}}""")]
    [InlineData("""{"id":"e1","type":"call.ended","timestamp":"2025-10-09T08:53:20Z","tenantId":"school-1","subject":"call:1","sequence":1,"data":[]}""")]
    [InlineData("""{"id":"","type":"call.ended","timestamp":"2025-10-09T08:53:20Z","tenantId":"school-1","subject":"call:1","sequence":1,"data":{}}""")]
    public void A_signed_body_that_is_not_an_envelope_is_refused(string body)
    {
        var e = Refused(() => Verifier(Secret).Verify(body, Id, Now.ToString(), Sign(Secret, Id, Now, body)));

        Assert.Equal(WebhookVerificationException.InvalidBody, e.Code);
    }

    [Fact]
    public void An_envelope_with_fields_added_later_still_verifies()
    {
        var body = Body.Replace("\"sequence\":3,", "\"sequence\":3,\"attempt\":2,");

        var e = Verifier(Secret).Verify(body, Id, Now.ToString(), Sign(Secret, Id, Now, body));

        Assert.Equal(JsonValueKind.Object, e.Data.ValueKind);
    }

    [Theory]
    [InlineData("Y2FsbGVybi13ZWJob29rLXRlc3Qta2V5LW9uZQ==")]
    [InlineData("whsec_not base64!")]
    [InlineData("whsec_Y2FsbGVybi13ZWJob29rLXRlc3Qta2V5LW9uZQ")]
    [InlineData("whsec_")]
    [InlineData("WHSEC_Y2FsbGVybi13ZWJob29rLXRlc3Qta2V5LW9uZQ==")]
    public void A_malformed_secret_is_refused_by_the_constructor(string secret)
    {
        Assert.Throws<ArgumentException>(() => new WebhookVerifier(Secret, secret));
    }

    [Fact]
    public void A_verifier_without_secrets_or_with_a_negative_tolerance_cannot_be_made()
    {
        Assert.Throws<ArgumentException>(() => new WebhookVerifier());
        Assert.Throws<ArgumentOutOfRangeException>(() => new WebhookVerifier([Secret], TimeSpan.FromSeconds(-1)));
    }
}
