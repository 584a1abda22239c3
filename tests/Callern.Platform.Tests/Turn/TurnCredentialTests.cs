using Callern.Platform.Turn;

namespace Callern.Platform.Tests.Turn;

public sealed class TurnCredentialTests
{
    private const string Secret = "s3cret-s3cret-s3cret";

    [Fact]
    public void Password_is_base64_hmac_sha1_of_the_username_as_coturn_computes_it()
    {
        // Computed with: printf '%s' 1700003600:abc | openssl dgst -sha1 -hmac s3cret-s3cret-s3cret -binary | base64
        Assert.Equal("aTfW8DxtzXFrMCJ32whEJRT7MGI=", TurnCredentials.Password(Secret, "1700003600:abc"));
    }

    [Fact]
    public void Username_is_expiry_in_unix_seconds_then_an_opaque_id()
    {
        var now = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_750);

        var credential = TurnCredentials.Issue(Secret, "0f8fad5bd9cb469fa16570867728950e:teacher-ana", now, 3600);

        var (expiry, id) = (credential.Username.Split(':')[0], credential.Username.Split(':')[1]);
        Assert.Equal("1700003600", expiry);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_700_003_600), credential.ExpiresAt);
        Assert.Equal(2, credential.Username.Split(':').Length);
        Assert.Matches("^[A-Za-z0-9_-]{16}$", id);
        Assert.Equal(TurnCredentials.Password(Secret, credential.Username), credential.Password);
    }

    [Fact]
    public void Opaque_id_names_neither_tenant_nor_user_and_separates_tenants()
    {
        const string tenantA = "0f8fad5bd9cb469fa16570867728950e";
        const string tenantB = "7c9e6679742540de944be07fc1f90ae7";

        var a = TurnCredentials.OpaqueId(Secret, $"{tenantA}:teacher-ana");

        Assert.DoesNotContain("teacher", a);
        Assert.DoesNotContain(tenantA[..8], a);
        Assert.Equal(a, TurnCredentials.OpaqueId(Secret, $"{tenantA}:teacher-ana"));
        Assert.NotEqual(a, TurnCredentials.OpaqueId(Secret, $"{tenantB}:teacher-ana"));
        Assert.NotEqual(a, TurnCredentials.OpaqueId("another-secret-value", $"{tenantA}:teacher-ana"));
    }
}
